"""The device's evaluation crop is timm's PIL eval transform to the bit: any size, up or down, one image or a
batch of different sizes on a common canvas, in each of the interpolations timm's configs use."""

import numpy as np
import pytest
import torch
from PIL import Image

from inception_tl.data.device.resize import crop_box, eval_crop
from inception_tl.data.preprocessing import eval_transform
from inception_tl.data.worker.collate import collate_images


def pil_crop(pixels: np.ndarray, size: int, crop_pct: float, interpolation: str) -> torch.Tensor:
    """timm's eval transform on a PIL image, as pixel values in [0, 255] (its normalisation undone exactly)."""
    config = {"input_size": (3, size, size), "crop_pct": crop_pct, "interpolation": interpolation}
    transform = eval_transform({**config, "mean": (0.0,) * 3, "std": (1.0,) * 3})
    return (transform(Image.fromarray(pixels)) * 255).round()


def device_crops(images: list[np.ndarray], size: int, resize: int, interpolation: str) -> torch.Tensor:
    items = [
        {"image": pixels, "label": 0, "index": index} | {"box": crop_box(*pixels.shape[:2], resize, size)}
        for index, pixels in enumerate(images)
    ]
    batch = collate_images(items)
    return eval_crop(batch["images"].permute(0, 3, 1, 2), batch["sizes"], batch["boxes"], size, interpolation)


@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear", "lanczos"])
def test_random_sizes_up_and_down_equal_pil_in_one_batch(interpolation):
    rng = np.random.default_rng(0)
    size, crop_pct = 75, 0.875
    resize = int(size / crop_pct)  # 85
    shapes = [(int(rng.integers(20, 200)), int(rng.integers(20, 200))) for _ in range(12)]
    shapes += [(resize, resize), (resize, 130), (40, 40)]  # unchanged, only the longer side, only up
    images = [rng.integers(0, 256, (*shape, 3), dtype=np.uint8) for shape in shapes]
    expected = torch.stack([pil_crop(pixels, size, crop_pct, interpolation) for pixels in images])
    crops = device_crops(images, size, resize, interpolation)
    assert crops.shape == (len(images), 3, size, size)
    assert torch.equal(crops, expected)


def test_the_crop_box_is_torchvisions_resize_and_centre_crop():
    assert crop_box(300, 300, 341, 299) == (341, 341, 21, 21)  # horse-or-human: up to 341, the centre 299
    assert crop_box(32, 32, 341, 299) == (341, 341, 21, 21)  # CIFAR-10: the same from 32 px
    assert crop_box(341, 512, 341, 299) == (341, 512, 21, 106)  # already stored at the resize size
    assert crop_box(100, 50, 85, 75) == (170, 85, 48, 5)  # tall: the shorter side sets the scale
