"""Colour, policy and erasing: the draws keep to their ranges and reach their ends, each image's parameters
act on that image as torchvision's per-image functions would, and erased boxes are where the draws say."""

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF

from inception_tl.data.device.colour_ops import apply_colour, erase
from inception_tl.data.worker.augment import Augment
from inception_tl.data.worker.colour_draws import COLOUR_FIELDS, IDENTITY, POLICY_OPS, draw_colour, draw_erase
from tests.helpers import make_datamodule, write_image_tree

FIELD = {name: index for index, name in enumerate(COLOUR_FIELDS)}


def parameters(count: int, **columns) -> torch.Tensor:
    """`count` images' parameters: the identity, with the given columns (one value per image)."""
    table = torch.tensor([IDENTITY] * count)
    for name, values in columns.items():
        table[:, FIELD[name]] = torch.tensor(values, dtype=torch.float32)
    return table


def test_the_draws_keep_to_their_ranges_and_reach_their_ends():
    augment = Augment.from_mapping(
        {"brightness": 0.4, "contrast": 0.2, "saturation": 1.5, "hue": 0.1, "greyscale": 0.2, "policy": "trivial"}
    )
    rng = np.random.default_rng(0)
    table = np.stack([draw_colour(rng, augment) for _ in range(4000)])
    column = {name: table[:, index] for index, name in enumerate(COLOUR_FIELDS)}
    assert 0.6 <= column["brightness"].min() < 0.61
    assert 1.39 < column["brightness"].max() <= 1.4
    assert column["saturation"].min() == pytest.approx(0.0, abs=0.01)  # 1 - 1.5 is clipped at 0, as ColorJitter
    assert -0.1 <= column["hue"].min() < -0.099
    assert 0.099 < column["hue"].max() <= 0.1
    assert column["greyscale"].mean() == pytest.approx(0.2, abs=0.02)
    # One operation per image, each of the eight about as often; strengths reach both ends.
    assert (column["policy_posterize"] > 0).mean() == pytest.approx(1 / len(POLICY_OPS), abs=0.02)
    assert set(np.unique(column["policy_posterize"])) == {0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0}
    assert column["policy_brightness"].min() == pytest.approx(0.01, abs=1e-6)
    assert column["policy_brightness"].max() == pytest.approx(1.99, abs=1e-6)
    solarized = column["policy_solarize"][column["policy_solarize"] < 2]
    assert solarized.min() == 0.0
    assert solarized.max() == 1.0
    again = np.stack([draw_colour(np.random.default_rng(0), augment) for _ in range(3)])
    assert np.array_equal(again[0], table[0])  # the same seed, the same parameters


@pytest.mark.parametrize(
    ("name", "values", "reference", "tolerance"),
    [
        ("brightness", [0.5, 1.0, 1.7], lambda x, v: TF.adjust_brightness(x, v), 1e-6),
        ("contrast", [0.3, 1.0, 1.8], lambda x, v: TF.adjust_contrast(x, v), 1e-4),
        ("saturation", [0.0, 1.0, 2.0], lambda x, v: TF.adjust_saturation(x, v), 1e-4),
        ("hue", [-0.2, 0.0, 0.35], lambda x, v: TF.adjust_hue(x, v), 1e-5),
        ("policy_sharpness", [0.1, 1.0, 1.9], lambda x, v: TF.adjust_sharpness(x, v), 1e-5),
        ("policy_solarize", [0.3, 2.0, 0.8], lambda x, v: x if v > 1 else TF.solarize(x, v), 1e-6),
        ("policy_autocontrast", [1.0, 0.0, 1.0], lambda x, v: TF.autocontrast(x) if v else x, 1e-6),
    ],
)
def test_each_images_parameters_act_as_torchvisions_function_on_that_image(name, values, reference, tolerance):
    """(Contrast and saturation: kornia's grey is 0.299 R, torchvision's 0.2989 R, hence 1e-4.)"""
    torch.manual_seed(0)
    images = torch.rand(3, 3, 20, 24) * 0.8 + 0.1
    result = apply_colour(images, parameters(3, **{name: values}))
    expected = torch.stack([reference(image, value) for image, value in zip(images, values, strict=True)])
    torch.testing.assert_close(result, expected.clamp(0, 1), atol=tolerance, rtol=0)


def test_posterize_and_greyscale_act_per_image():
    images = torch.randint(0, 256, (3, 3, 8, 8)).float() / 255
    posterized = apply_colour(images, parameters(3, policy_posterize=[2, 0, 8]))
    as_bytes = (images * 255).to(torch.uint8)
    torch.testing.assert_close(posterized[0], TF.posterize(as_bytes[0], 2).float() / 255)
    torch.testing.assert_close(posterized[1], images[1])  # 0: off
    greyed = apply_colour(images, parameters(3, greyscale=[1, 0, 1]))
    torch.testing.assert_close(greyed[0], TF.rgb_to_grayscale(images[0], 3), atol=1e-4, rtol=0)
    torch.testing.assert_close(greyed[1], images[1])


def test_erased_boxes_are_where_the_draws_say_and_their_noise_follows_the_seed():
    rng = np.random.default_rng(1)
    boxes = [draw_erase(rng, 1.0, 40) for _ in range(500)]
    areas = [h * w / 40**2 for _, _, h, w in boxes if h]
    assert 0.019 <= min(areas) < 0.03
    assert 0.3 < max(areas) <= 1 / 3 + 0.02
    assert all(top >= 0 and top + h < 40 and left >= 0 and left + w < 40 for top, left, h, w in boxes)
    images = torch.zeros(2, 3, 40, 40)
    chosen = torch.tensor([[5, 10, 8, 12], [0, 0, 0, 0]])
    erased = erase(images, chosen, seed=7)
    assert (erased[0, :, 5:13, 10:22] != 0).all()
    erased[0, :, 5:13, 10:22] = 0
    assert (erased == 0).all()  # nothing outside the box, nothing in the image without one
    assert torch.equal(erase(images, chosen, seed=7), erase(images, chosen, seed=7))


def test_a_batch_with_every_lever_is_the_same_for_the_same_seed(tmp_path):
    root = write_image_tree(tmp_path / "images", {"train": {"a": 6, "b": 6}})
    augment = {"brightness": 0.3, "hue": 0.05, "greyscale": 0.2, "policy": "trivial", "policy_ops": 2, "erase": 0.5}
    datamodule = make_datamodule(root, augment=augment, val_split=0.25)
    loader = datamodule.loader("train")

    def first_batch():
        loader.sampler.set_epoch(3)
        return datamodule.on_after_batch_transfer(next(iter(loader)), 0)[0]

    first, second = first_batch(), first_batch()
    assert torch.equal(first, second)
    assert first.shape == (4, 3, 75, 75)
