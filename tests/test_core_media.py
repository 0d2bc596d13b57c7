"""Media input: bytes, paths, data URIs, URLs, PIL images -> content parts; seen by the server."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from core_support import collect, demo_provider, text_of
from PIL import Image

from openai_magic.core import media


def image_bytes(fmt: str, size=(8, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


PNG = image_bytes("PNG")
JPEG = image_bytes("JPEG")


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (image_bytes("GIF"), "image/gif"),
        (image_bytes("WEBP"), "image/webp"),
        (image_bytes("BMP"), "image/bmp"),
        (b"%PDF-1.7\n...", "application/pdf"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        (b"\x00\x01\x02", "application/octet-stream"),
    ],
)
def test_sniff_mime(data, mime):
    assert media.sniff_mime(data) == mime


def test_bytes_win_over_filename():
    assert media.sniff_mime(PNG, "photo.jpg") == "image/png"
    assert media.sniff_mime(b"just text", "notes.txt") == "text/plain"


def test_parts_from_every_kind_of_input(tmp_path):
    path = tmp_path / "pic.bin"
    path.write_bytes(JPEG)
    uri = media.data_uri(PNG, "image/png")
    parts = media.to_parts(
        [
            PNG,
            (JPEG, "x.jpg"),
            str(path),
            path,
            uri,
            "https://example.com/cat.png",
            Image.new("RGB", (3, 3)),
            io.BytesIO(PNG),
        ]
    )
    urls = [part["image_url"]["url"] for part in parts]
    assert all(part["type"] == "image_url" for part in parts)
    assert urls[0] == uri
    assert urls[1].startswith("data:image/jpeg;base64,")
    assert urls[2] == urls[3] == media.data_uri(JPEG, "image/jpeg")
    assert urls[4] == uri and urls[5] == "https://example.com/cat.png"
    assert urls[6].startswith("data:image/png;base64,")
    assert base64.b64decode(urls[7].split(",", 1)[1]) == PNG


def test_non_image_media(tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("# hi")
    [text] = media.to_parts([notes])
    assert text == {"type": "text", "text": "notes.md:\n# hi"}
    [pdf] = media.to_parts([(b"%PDF-1.4 x", "doc.pdf")])
    assert pdf["type"] == "file" and pdf["file"]["filename"] == "doc.pdf"
    assert pdf["file"]["file_data"].startswith("data:application/pdf;base64,")


def test_single_item_and_errors(tmp_path):
    assert len(media.to_parts(PNG)) == 1
    assert len(media.to_parts((PNG, "a.png"))) == 1
    assert media.to_parts(None) == []
    with pytest.raises(FileNotFoundError):
        media.to_parts([tmp_path / "missing.png"])
    with pytest.raises(TypeError):
        media.to_parts([3.5])


def test_attach_to_last_user_message():
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]
    part = {"type": "image_url", "image_url": {"url": "u"}}
    result = media.attach(messages, [part])
    assert result[2]["content"] == [{"type": "text", "text": "c"}, part]
    assert messages[2]["content"] == "c" and result[0] is messages[0]


@pytest.mark.parametrize("stream", [False, True])
async def test_server_sees_images_with_detected_mime(demo_server, stream, tmp_path):
    P = demo_provider(demo_server.base_url)
    path = tmp_path / "misnamed.png"
    path.write_bytes(JPEG)
    items = await collect(
        P.create_async_generator("demo-chat", "what is this?", media=[PNG, Path(path)], stream=stream)
    )
    text = text_of(items)
    assert "You attached 2 images" in text
    assert f"`image/png`, {len(PNG)} bytes" in text
    assert f"`image/jpeg`, {len(JPEG)} bytes" in text
