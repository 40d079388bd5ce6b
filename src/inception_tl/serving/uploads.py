"""What an upload must be to reach the model, and the 4xx answer when it is not. Every check names the problem
and what to send instead; none raises past the request it belongs to."""

from __future__ import annotations

import base64
import binascii
import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from inception_tl.data.store import StorageSpec
from inception_tl.errors import DataError

# The multipart field names an image is looked for under (the page sends `image`; curl users often type `file`).
IMAGE_FIELDS = ("image", "file")
ACCEPTED = "multipart/form-data (field `image`), application/json ({\"image\": \"<base64>\"}) or an image/* body"


@dataclass(frozen=True)
class UploadError(Exception):
    """A request the server answers with `status` and a message instead of a prediction."""

    status: int
    message: str

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "status": self.status}


def media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def image_from_json(body: bytes) -> bytes:
    """The image of a JSON body `{"image": "<base64>"}` (a `data:` URL's prefix allowed)."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UploadError(400, f"The body is not valid JSON ({error}); send {{\"image\": \"<base64>\"}}.") from None
    encoded = payload.get("image") if isinstance(payload, dict) else None
    if not isinstance(encoded, str) or not encoded:
        raise UploadError(400, "The JSON has no \"image\" string: send {\"image\": \"<the file's bytes in base64>\"}.")
    if encoded.startswith("data:"):
        encoded = encoded.partition(",")[2]
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise UploadError(400, "\"image\" is not valid base64: encode the file's bytes with base64.") from None


def check_image_bytes(data: bytes) -> bytes:
    if not data:
        raise UploadError(400, f"The upload is empty: send an image file as {ACCEPTED}.")
    return data


def decode_upload(data: bytes, spec: StorageSpec, max_pixels: int) -> np.ndarray:
    """The uploaded image at its storage size, as predict.py decodes a file; its size is checked from the header,
    before any pixel is decoded."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except UnidentifiedImageError:
        raise UploadError(415, "Not an image this server reads (JPEG, PNG, WebP, BMP, GIF, TIFF).") from None
    except Image.DecompressionBombError:
        raise UploadError(413, "The image has too many pixels to decode safely (a decompression bomb).") from None
    except OSError as error:
        raise UploadError(400, f"The image cannot be read: {error}.") from None
    if width * height > max_pixels:
        raise UploadError(
            413,
            f"The image is {width} x {height} pixels, over this server's {max_pixels / 1e6:g} megapixels "
            "(serve.max_megapixels): send it smaller.",
        )
    try:
        return spec.decode(io.BytesIO(data))
    except DataError as error:
        cause = error.__cause__ or error
        raise UploadError(400, f"The image is corrupt or truncated: {cause}.") from None
