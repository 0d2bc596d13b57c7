"""Deterministic PNG images for `/v1/images/generations`.

The PNG is written with stdlib `zlib` + `struct` so the server needs no Pillow. Pixels are built
row by row with `bytes.translate` (C speed), never a Python loop per pixel: a 1024x1024 image costs
a few tens of milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib

# _SHIFT[k] maps each byte value v to (v + k) % 256: translating a row by it shifts its colours.
_SHIFT = [bytes((v + k) % 256 for v in range(256)) for k in range(256)]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png(width: int, height: int, seed: bytes) -> bytes:
    """An RGB PNG: diagonal gradients and stripes whose colours and angles come from `seed`."""
    h = hashlib.sha256(seed).digest()
    sr, sg, sb = (1 + h[i] % 5 for i in range(3))
    stripe = 8 + h[3] % 24
    base = []
    for c in range(3):
        col = bytes(
            (h[4 + c] + x * 256 // width + (48 if (x // stripe) % 2 else 0) * (c == 1)) % 256
            for x in range(width)
        )
        base.append(col)
    row = bytearray(1 + 3 * width)  # filter byte 0 (None) + RGB triples
    rows = []
    for y in range(height):
        band = y * 256 // height
        row[1::3] = base[0].translate(_SHIFT[(band * sr) % 256])
        row[2::3] = base[1].translate(_SHIFT[(band * sg + 128 * ((y // stripe) % 2)) % 256])
        row[3::3] = base[2].translate(_SHIFT[(255 - band * sb) % 256])
        rows.append(bytes(row))
    raw = b"".join(rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )


def generate_b64(prompt: str, width: int, height: int, n: int = 1) -> list[str]:
    """`n` base64 PNGs for a prompt: same prompt and index, same image."""
    return [
        base64.b64encode(png(width, height, f"{prompt}\x00{i}".encode())).decode("ascii") for i in range(n)
    ]


def filler_base64(length: int) -> str:
    """A deterministic base64 string of about `length` characters (quirk `huge-line`)."""
    block = hashlib.sha512(b"openai-magic huge line").digest() * 64
    raw = block * (length * 3 // 4 // len(block) + 1)
    return base64.b64encode(raw[: length * 3 // 4]).decode("ascii")
