"""Image generation of the demo server (server/images.py): real PNGs of the requested size."""

from __future__ import annotations

import base64
import struct

import openai
import pytest
from server_support import sdk_client

sdk = pytest.fixture(scope="module")(sdk_client)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_image_generation_returns_png_of_requested_size(sdk: openai.OpenAI) -> None:
    result = sdk.images.generate(model="demo-image", prompt="a red fox", size="256x128", n=2)
    images = [base64.b64decode(item.b64_json) for item in result.data]
    assert [png_size(image) for image in images] == [(256, 128), (256, 128)]
    assert images[0] != images[1]
    again = sdk.images.generate(model="demo-image", prompt="a red fox", size="256x128")
    assert base64.b64decode(again.data[0].b64_json) == images[0]


def test_image_png_decodes_with_pillow(sdk: openai.OpenAI) -> None:
    import io

    from PIL import Image

    data = base64.b64decode(sdk.images.generate(prompt="waves", size="64x48").data[0].b64_json)
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.size == (64, 48)
    assert len(image.getcolors(64 * 48)) > 10, "a pattern, not a flat colour"


def test_image_url_format_is_a_data_uri(sdk: openai.OpenAI) -> None:
    result = sdk.images.generate(model="demo-image", prompt="a cat", size="32x32", response_format="url")
    url = result.data[0].url
    assert url.startswith("data:image/png;base64,")
    assert png_size(base64.b64decode(url.split(",", 1)[1])) == (32, 32)


@pytest.mark.parametrize("size", ["big", "0x0", "100", "5000x10", "64x64x64"])
def test_image_bad_size_is_a_400(sdk: openai.OpenAI, size: str) -> None:
    with pytest.raises(openai.BadRequestError):
        sdk.images.generate(model="demo-image", prompt="x", size=size)  # type: ignore[arg-type]
