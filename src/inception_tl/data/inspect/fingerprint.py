"""Fingerprints of an image, taken while the scan reads the file: what the duplicate check compares.

- The content hash (SHA-256 of the file's bytes) finds byte-identical copies.
- The perceptual hash is the DCT hash (pHash, as in the `imagehash` package): the image in grey at
  32 x 32, its 2-D DCT, one bit per coefficient of the low-frequency 8 x 8 block (above their median or
  not). Resizing and re-encoding barely move those coefficients: a resized, recompressed copy lands a
  few bits away, unrelated photos about 32 bits away. Written in a few lines of NumPy rather than taken
  from `imagehash`, which would bring SciPy and PyWavelets for this one function.
- pHash is blind to colour: two centred discs of different colours hash alike. An 8 x 8 colour
  thumbnail confirms each candidate (a copy differs by 1 or 2 levels in 255 on average, such pairs of
  generated shapes by more than 20).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image

from inception_tl.data.store.decode import to_rgb

HASH_SIDE = 8  # 8 x 8 low frequencies: a 64-bit hash
SAMPLE_SIDE = 32  # the grey image the DCT runs on
THUMBNAIL_SIDE = 8  # the colour thumbnail


@dataclass(frozen=True)
class Fingerprint:
    content: str  # SHA-256 of the file's bytes
    perceptual: int  # 64-bit pHash
    thumbnail: bytes  # 8 x 8 RGB, uint8


@cache
def dct_matrix(size: int) -> np.ndarray:
    """The orthonormal DCT-II matrix: `D @ x` is the DCT of the column vector x."""
    k = np.arange(size)[:, None]
    n = np.arange(size)[None, :]
    matrix = np.cos(np.pi * (2 * n + 1) * k / (2 * size)) * np.sqrt(2 / size)
    matrix[0] /= np.sqrt(2)
    return matrix


def perceptual_hash(grey: Image.Image) -> int:
    """The 64-bit DCT hash of a grey image."""
    sample = grey.resize((SAMPLE_SIDE, SAMPLE_SIDE), Image.Resampling.LANCZOS)
    dct = dct_matrix(SAMPLE_SIDE)
    coefficients = dct @ np.asarray(sample, dtype=np.float64) @ dct.T
    low = coefficients[:HASH_SIDE, :HASH_SIDE]
    bits = (low > np.median(low)).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def fingerprint(data: bytes) -> Fingerprint:
    """The fingerprints of an image file's bytes, from the image upright and in RGB as training sees it.

    PIL's errors propagate: the scan reports such a file as unreadable.
    """
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (4 * SAMPLE_SIDE, 4 * SAMPLE_SIDE))  # JPEG: decode at a reduced scale, much faster
        upright = to_rgb(image)
    thumbnail = upright.resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX).tobytes()
    return Fingerprint(hashlib.sha256(data).hexdigest(), perceptual_hash(upright.convert("L")), thumbnail)


def colour_difference(a: Fingerprint, b: Fingerprint) -> float:
    """Mean absolute difference of the two colour thumbnails, in levels of 255."""
    first = np.frombuffer(a.thumbnail, dtype=np.uint8).astype(np.int16)
    second = np.frombuffer(b.thumbnail, dtype=np.uint8).astype(np.int16)
    return float(np.abs(first - second).mean())
