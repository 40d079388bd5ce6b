"""The device's evaluation crop is timm's PIL eval transform to the bit: any size, larger ones reduced by the
store first as in a run, one image or a batch of different sizes on a common canvas, in each of the
interpolations timm's configs use."""

import numpy as np
import pytest
import torch
from PIL import Image

from inception_tl.data.device.resize import eval_crop
from inception_tl.data.preprocessing import eval_transform
from inception_tl.data.store import StorageSpec
from inception_tl.data.store.decode import decode_for_storage
from inception_tl.data.worker.collate import collate_images
from inception_tl.data.worker.eval_crop import eval_crop_box


def pil_crop(path, size: int, crop_pct: float, interpolation: str):
    """timm's eval transform of the file, as pixel values in [0, 255] (its normalisation undone exactly)."""
    config = {"input_size": (3, size, size), "crop_pct": crop_pct, "interpolation": interpolation}
    transform = eval_transform({**config, "mean": (0.0,) * 3, "std": (1.0,) * 3})
    return (transform(Image.open(path).convert("RGB")) * 255).round()


@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear", "lanczos"])
def test_random_sizes_equal_pil_in_one_batch(tmp_path, interpolation):
    rng = np.random.default_rng(0)
    size, crop_pct = 75, 0.875
    resize = int(size / crop_pct)  # 85
    shapes = [(int(rng.integers(20, 200)), int(rng.integers(20, 200))) for _ in range(12)]
    shapes += [(resize, resize), (resize, 130), (40, 40), (300, 90)]  # kept, the longer side, up, both ways
    paths = []
    for index, shape in enumerate(shapes):
        paths.append(tmp_path / f"{index}.png")
        Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(paths[-1])
    stored = [decode_for_storage(str(path), resize, interpolation) for path in paths]  # as the store keeps them
    items = [
        {"image": pixels, "label": 0, "index": index, "box": eval_crop_box(*pixels.shape[:2], resize, size)}
        for index, pixels in enumerate(stored)
    ]
    batch = collate_images(items)
    images = batch["images"].permute(0, 3, 1, 2)
    crops = eval_crop(images, batch["sizes"], batch["boxes"], size, interpolation, batch["resampling"])
    expected = [pil_crop(path, size, crop_pct, interpolation) for path in paths]
    assert crops.shape == (len(paths), 3, size, size)
    for crop, reference, shape in zip(crops, expected, shapes, strict=True):
        assert (crop == reference).all(), shape


def test_a_batch_stored_at_the_resize_size_is_only_cut_and_still_equals_pil(tmp_path):
    """Photos larger than the resize size reach the device at it: no pass resamples, the crop is a cut."""
    rng = np.random.default_rng(1)
    paths = [tmp_path / f"{index}.png" for index in range(3)]
    for path, shape in zip(paths, [(120, 90), (90, 200), (100, 100)], strict=True):
        Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(path)
    stored = [decode_for_storage(str(path), 85, "bicubic") for path in paths]
    items = [
        {"image": pixels, "label": 0, "index": index, "box": eval_crop_box(*pixels.shape[:2], 85, 75)}
        for index, pixels in enumerate(stored)
    ]
    batch = collate_images(items)
    assert batch["resampling"] == (False, False)
    crops = eval_crop(
        batch["images"].permute(0, 3, 1, 2), batch["sizes"], batch["boxes"], 75, "bicubic", (False, False)
    )
    for crop, path in zip(crops, paths, strict=True):
        assert (crop == pil_crop(path, 75, 0.875, "bicubic")).all()


def test_the_crop_box_is_torchvisions_resize_and_centre_crop():
    assert eval_crop_box(300, 300, 341, 299) == (341, 341, 21, 21)  # horse-or-human: up to 341, the centre 299
    assert eval_crop_box(32, 32, 341, 299) == (341, 341, 21, 21)  # CIFAR-10: the same from 32 px
    assert eval_crop_box(341, 512, 341, 299) == (341, 512, 21, 106)  # already stored at the resize size
    assert eval_crop_box(50, 25, 85, 75) == (170, 85, 48, 5)  # tall: the shorter side sets the scale


def test_an_image_the_store_did_not_reduce_is_refused():
    with pytest.raises(ValueError, match="would be reduced on the device"):
        eval_crop_box(200, 120, 85, 75)


@pytest.mark.parametrize("crop_mode", ["squash", "border"])
@pytest.mark.parametrize(("size", "crop_pct"), [(75, 0.875), (75, 0.87)])  # 10 and 11 px around the crop
def test_squash_and_border_stored_then_cut_equal_timms_transform(tmp_path, crop_mode, size, crop_pct):
    """timm's other crop modes (data.crop_mode): the store resizes the whole image into a square (stretched, or
    the longer side with a border of the mean colour), the device cuts the centre; both equal timm's transform."""
    rng = np.random.default_rng(2)
    shapes = [(int(rng.integers(10, 200)), int(rng.integers(10, 200))) for _ in range(10)]
    shapes += [(40, 80), (80, 40), (17, 160), (300, 90), (85, 85), (86, 85)]  # 1:2, 2:1, thin, reduced, square
    config = {"input_size": (3, size, size), "crop_pct": crop_pct, "interpolation": "bicubic", "crop_mode": crop_mode}
    config |= {"mean": (0.5, 0.4, 0.3), "std": (1.0, 1.0, 1.0)}
    spec = StorageSpec.for_preprocessing(config)
    transform = eval_transform(config)
    for index, shape in enumerate(shapes):
        path = tmp_path / f"{index}.png"
        Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(path)
        stored = spec.decode(str(path))
        assert stored.shape == (spec.shorter_side, spec.shorter_side, 3)
        batch = collate_images(
            [
                {
                    "image": stored,
                    "label": 0,
                    "index": 0,
                    "box": eval_crop_box(*stored.shape[:2], spec.shorter_side, size),
                }
            ]
        )
        assert batch["resampling"] == (False, False)  # only cut
        crop = eval_crop(batch["images"].permute(0, 3, 1, 2), batch["sizes"], batch["boxes"], size, "bicubic")
        mean = torch.tensor(config["mean"]).view(3, 1, 1)
        reference = ((transform(Image.open(path).convert("RGB")) + mean) * 255).round()
        assert (crop[0] == reference).all(), shape
