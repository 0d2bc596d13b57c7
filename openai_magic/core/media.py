"""Turn user media (paths, bytes, URLs, data URIs, PIL images) into OpenAI message content parts.

Images become `image_url` parts holding data URIs (or the URL itself), with the MIME type sniffed
from the bytes, since file names lie and bytes have none. Audio becomes `input_audio`, PDFs a
`file` part, and text files a `text` part.
"""

from __future__ import annotations

import base64
import mimetypes
import os
from pathlib import Path
from typing import Any

# Magic numbers of the formats chat APIs accept; a few lines instead of a dependency (python-magic).
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"%PDF-", "application/pdf"),
    (b"ID3", "audio/mpeg"),
    (b"\xff\xfb", "audio/mpeg"),
    (b"\xff\xf3", "audio/mpeg"),
    (b"fLaC", "audio/flac"),
    (b"OggS", "audio/ogg"),
)


def sniff_mime(data: bytes, filename: str | None = None) -> str:
    """The MIME type from magic bytes, else from the file name, else `application/octet-stream`."""
    for signature, mime in _SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] in (b"WEBP", b"WAVE"):
        return "image/webp" if data[8:12] == b"WEBP" else "audio/wav"
    if data[4:12] in (b"ftypavif", b"ftypavis"):
        return "image/avif"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "image/heic"
    head = data[:256].lstrip()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:1024]):
        return "image/svg+xml"
    if filename:
        guessed, _ = mimetypes.guess_type(filename)
        if guessed:
            return guessed
    return "application/octet-stream"


def data_uri(data: bytes, mime: str) -> str:
    """`data:<mime>;base64,<payload>`."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _pil_bytes(image: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    fmt = (getattr(image, "format", None) or "PNG").upper()
    if fmt not in {"PNG", "JPEG", "GIF", "WEBP"}:
        fmt = "PNG"
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _is_pil(item: Any) -> bool:
    return type(item).__module__.startswith("PIL.") and hasattr(item, "save")


def load(item: Any, filename: str | None = None) -> tuple[bytes | str, str | None]:
    """Read one media item: returns `(bytes, filename)` or `(url_or_data_uri, None)`."""
    if isinstance(item, bytes | bytearray | memoryview):
        return bytes(item), filename
    if _is_pil(item):
        return _pil_bytes(item), filename
    if hasattr(item, "read"):
        data = item.read()
        name = filename or os.path.basename(str(getattr(item, "name", "") or "")) or None
        return (data.encode() if isinstance(data, str) else bytes(data)), name
    if isinstance(item, str) and item.startswith(("http://", "https://", "data:")):
        return item, None
    if isinstance(item, str | os.PathLike):
        path = Path(item).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"media file not found: {path}")
        return path.read_bytes(), filename or path.name
    raise TypeError(f"unsupported media item of type {type(item).__name__}")


def to_part(item: Any, filename: str | None = None) -> dict[str, Any]:
    """One OpenAI content part for a media item."""
    data, name = load(item, filename)
    if isinstance(data, str):
        return {"type": "image_url", "image_url": {"url": data}}
    mime = sniff_mime(data, name)
    if mime.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": data_uri(data, mime)}}
    if mime in ("audio/wav", "audio/x-wav", "audio/mpeg"):
        fmt = "mp3" if mime == "audio/mpeg" else "wav"
        return {
            "type": "input_audio",
            "input_audio": {"data": base64.b64encode(data).decode(), "format": fmt},
        }
    if mime.startswith("text/") or mime in ("application/json", "application/xml"):
        text = data.decode("utf-8", "replace")
        title = f"{name}:\n" if name else ""
        return {"type": "text", "text": f"{title}{text}"}
    return {"type": "file", "file": {"filename": name or "file", "file_data": data_uri(data, mime)}}


def to_parts(media: Any) -> list[dict[str, Any]]:
    """Content parts for a list of `(data, filename)` pairs or plain items (or a single item)."""
    if media is None:
        return []
    if isinstance(media, tuple) and _is_pair(media) and not isinstance(media[0], str | os.PathLike):
        media = [media]  # one (data, filename) pair
    elif not isinstance(media, list | tuple):
        media = [media]
    return [to_part(entry[0], entry[1]) if _is_pair(entry) else to_part(entry) for entry in media]


def _is_pair(entry: Any) -> bool:
    return isinstance(entry, tuple) and len(entry) == 2 and (entry[1] is None or isinstance(entry[1], str))


def attach(messages: list[dict[str, Any]], parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of `messages` with `parts` appended to the content of the last user message."""
    if not parts:
        return messages
    messages = list(messages)
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "user":
            break
    else:
        messages.append({"role": "user", "content": ""})
        index = len(messages) - 1
    message = dict(messages[index])
    content = message.get("content")
    if isinstance(content, list):
        new_content = [*content, *parts]
    else:
        text = "" if content is None else str(content)
        new_content = ([{"type": "text", "text": text}] if text else []) + parts
    message["content"] = new_content
    messages[index] = message
    return messages


__all__ = ["attach", "data_uri", "load", "sniff_mime", "to_part", "to_parts"]
