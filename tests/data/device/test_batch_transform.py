"""The device's data path: evaluation tensors are timm's, the one-warp augmentation puts pixels where each
transform says, and its random draws follow the configured ranges."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from inception_tl.data.device.batch_transform import BatchTransform
from inception_tl.data.preprocessing import eval_transform
from inception_tl.data.store.decode import load_rgb
from inception_tl.data.worker.augment import Augment, WarpParameters, draw_parameters, output_to_source
from inception_tl.data.worker.collate import collate_images
from tests.helpers import make_datamodule, write_image_tree

NO_AUGMENT = {"enabled": False}


def model_inputs(datamodule, split):
    """Every image of `split` as the model receives it, in the split's order."""
    batches = [datamodule.on_after_batch_transfer(batch, 0) for batch in datamodule.loader(split, whole=True)]
    return torch.cat([inputs for inputs, _, _ in batches])


@pytest.fixture(scope="module")
def photos(shared_tmp):
    """Squares, wide, tall and tiny images: upscaled and reduced by the eval resize."""
    root = write_image_tree(shared_tmp("photos"), {"train": {"a": 3, "b": 3}, "test": {"a": 2, "b": 2}})
    rng = np.random.default_rng(0)
    for name, shape in (("wide", (90, 250, 3)), ("tall", (300, 120, 3)), ("tiny", (32, 32, 3))):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / "test" / "a" / f"{name}.png")
    return root


@pytest.mark.parametrize("backbone", ["inception_v3", "inception_resnet_v2"])  # crop_pct 0.875 and 0.8975
@pytest.mark.parametrize("cache", ["auto", "none"])
def test_evaluation_tensors_equal_timms_eval_transform_to_the_bit(photos, backbone, cache):
    datamodule = make_datamodule(photos, backbone=backbone, image_size=99, cache=cache, val_split=0.5)
    inputs = model_inputs(datamodule, "test")
    transform = eval_transform(datamodule.preprocessing)
    expected = torch.stack([transform(load_rgb(path)) for path, _ in datamodule.samples["test"]])
    assert inputs.shape == expected.shape == (7, 3, 99, 99)
    assert torch.equal(inputs, expected)  # resized on the device (wide, tall, tiny: up; the squares: down)


def test_without_augmentation_training_sees_the_evaluation_crop(photos):
    datamodule = make_datamodule(photos, augment=NO_AUGMENT, val_split=0.5)
    loader = datamodule.loader("train")
    loader.sampler.set_epoch(0)
    inputs, _, indices = datamodule.on_after_batch_transfer(next(iter(loader)), 0)
    transform = eval_transform(datamodule.preprocessing)
    expected = torch.stack([transform(load_rgb(datamodule.samples["train"][i][0])) for i in indices.tolist()])
    assert torch.equal(inputs, expected)


def warped(pixels: np.ndarray, parameters: WarpParameters, size: int) -> torch.Tensor:
    """`pixels` (H, W, 3) through one warp on the device path, as values in [0, 255]."""
    item = {"image": pixels, "label": 0, "index": 0}
    item |= {"warp": output_to_source(parameters, size), "size": size}
    transform = BatchTransform((0.0,) * 3, (1.0,) * 3, size, "bicubic")  # identity normalisation, x 255
    return transform(collate_images([item]))[0] * 255


def still(crop, **changes) -> WarpParameters:
    """A warp that only crops, unless `changes` say otherwise."""
    fixed = {"crop": crop, "flip": False, "angle": 0.0, "shift": (0.0, 0.0), "scale": 1.0, "shear": 0.0}
    return WarpParameters(**fixed | changes)


def test_each_part_of_the_warp_moves_pixels_as_its_transform_says():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    source = torch.from_numpy(pixels.transpose(2, 0, 1).copy()).float()
    whole = (0, 0, 40, 40)
    # At the source's own size, samples fall on pixel centres: bicubic interpolation returns them exactly.
    torch.testing.assert_close(warped(pixels, still(whole), 40), source, atol=1e-3, rtol=0)
    torch.testing.assert_close(warped(pixels, still(whole, flip=True), 40), source.flip(-1), atol=1e-3, rtol=0)
    rotated = warped(pixels, still(whole, angle=90.0), 40)
    assert min((rotated - source.rot90(k, dims=(1, 2))).abs().max() for k in (1, 3)) < 1e-3  # a quarter turn
    shifted = warped(pixels, still(whole, shift=(5.0, -3.0)), 40)
    torch.testing.assert_close(shifted[:, 0:37, 5:], source[:, 3:40, 0:35], atol=1e-3, rtol=0)
    assert (shifted[:, :, :5] == 0).all()  # what the shift brings in is the fill colour
    crop = warped(pixels, still((10, 20, 16, 12)), 8)  # a 16 x 12 box from row 10, column 20, to 8 x 8
    expected = F.interpolate(source[None, :, 10:26, 20:32], size=(8, 8), mode="bicubic", align_corners=False)[0]
    # Away from the box's border (where the warp reads the image around the box and interpolate clamps):
    torch.testing.assert_close(crop[:, 1:-1, 1:-1], expected.clamp(0, 255)[:, 1:-1, 1:-1], atol=1e-3, rtol=0)


def test_random_draws_follow_the_configured_ranges():
    augment = Augment(crop_scale=(0.3, 0.7), hflip=0.25, rotation=10, shift=0.1, shear=4, zoom=0.2)
    rng = np.random.default_rng(0)
    draws = [draw_parameters(rng, 150, 150, 100, augment) for _ in range(4000)]
    areas = np.array([d.crop[2] * d.crop[3] / 150**2 for d in draws])
    ratios = np.array([d.crop[3] / d.crop[2] for d in draws])
    # Every range is respected and used to its ends (rounding to whole pixels: a hair beyond for crops).
    assert 0.29 <= areas.min() < 0.31
    assert 0.69 < areas.max() <= 0.71
    assert 0.74 <= ratios.min() < 0.76  # 3/4 to 4/3, as torchvision's RandomResizedCrop
    assert 1.32 < ratios.max() <= 1.35
    assert all(0 <= d.crop[0] <= 150 - d.crop[2] and 0 <= d.crop[1] <= 150 - d.crop[3] for d in draws)
    assert np.mean([d.flip for d in draws]) == pytest.approx(0.25, abs=0.03)
    angles, shears = np.array([d.angle for d in draws]), np.array([d.shear for d in draws])
    assert 9.9 < np.abs(angles).max() <= 10
    assert 3.9 < np.abs(shears).max() <= 4
    assert abs(np.mean(angles)) < 0.5  # symmetric about zero
    shifts = np.array([d.shift for d in draws])
    assert set(np.unique(shifts)) == set(range(-10, 11))  # whole output pixels, up to 0.1 x 100
    scales = np.array([d.scale for d in draws])
    assert 0.8 <= scales.min() < 0.81
    assert 1.19 < scales.max() <= 1.2


def test_a_warped_crop_keeps_its_area_and_stays_inside_the_image():
    """The corners of the output map into the crop box: the matrices compose in the right order."""
    rng = np.random.default_rng(3)
    for _ in range(200):
        parameters = draw_parameters(rng, 90, 130, 64, Augment(rotation=0, shift=0, shear=0, zoom=0))
        corners = output_to_source(parameters, 64) @ np.array([[0, 64, 0, 64], [0, 0, 64, 64], [1, 1, 1, 1]])
        top, left, height, width = parameters.crop
        assert (corners[0].min(), corners[0].max()) == pytest.approx((left, left + width))
        assert (corners[1].min(), corners[1].max()) == pytest.approx((top, top + height))
    rotation = output_to_source(still((0, 0, 50, 50), angle=30.0), 50)
    assert math.degrees(math.atan2(rotation[1, 0], rotation[0, 0])) == pytest.approx(-30.0)  # the inverse turn


def test_a_batch_of_different_sizes_warps_each_image_from_its_own_pixels():
    small, large = np.full((30, 30, 3), 200, np.uint8), np.full((60, 90, 3), 50, np.uint8)
    items = [
        {"image": p, "label": 0, "index": i, "size": 20} | {"warp": output_to_source(still((0, 0, *p.shape[:2])), 20)}
        for i, p in enumerate((small, large))
    ]
    batch = collate_images(items)
    assert batch["images"].shape == (2, 60, 90, 3)  # channels last, as stored
    out = BatchTransform((0.0,) * 3, (1.0,) * 3, 20, "bicubic")(batch) * 255
    torch.testing.assert_close(out[0], torch.full((3, 20, 20), 200.0), atol=1e-3, rtol=0)
    torch.testing.assert_close(out[1], torch.full((3, 20, 20), 50.0), atol=1e-3, rtol=0)
