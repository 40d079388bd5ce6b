"""Class-activation maps mean something: trained on images whose class is decided by a shape drawn in a random
quarter (the rest noise), a CNN's and a ViT's maps, on the stage chosen automatically, put most of their mass in
that quarter. The CNN tells a horizontal bar from a vertical one; the ViT, trained from scratch in a test's time
on the CPU, a red square from a blue one (it does not learn the bars' orientation from 200 images)."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from inception_tl.deploy.unit_images import unit_images
from inception_tl.evaluation.cam import activation_maps, choose_target
from inception_tl.models import ImageClassifier
from tests.helpers import fit, make_datamodule

pytestmark = pytest.mark.slow

SIZE = 64
HALF = SIZE // 2


def draw(path, kind: str, quarter: int, rng: np.random.Generator) -> None:
    """Grey noise, and in `quarter` a black or white bar (class `across`: horizontal, `upright`: vertical) or a
    square (class `red` or `blue`)."""
    grey = rng.integers(60, 196, (SIZE, SIZE, 1), dtype=np.uint8)
    image = Image.fromarray(np.repeat(grey, 3, axis=2))
    row, column = divmod(quarter, 2)
    cy, cx = row * HALF + HALF // 2 + rng.integers(-2, 3), column * HALF + HALF // 2 + rng.integers(-2, 3)
    if kind in ("red", "blue"):
        half_h = half_w = 8
        colour = (220, 40, 40) if kind == "red" else (40, 40, 220)
    else:
        long, short = rng.integers(9, 13), 3
        half_h, half_w = (short, long) if kind == "across" else (long, short)
        colour = (255, 255, 255) if rng.random() < 0.5 else (0, 0, 0)
    ImageDraw.Draw(image).rectangle([cx - half_w, cy - half_h, cx + half_w, cy + half_h], fill=colour)
    image.save(path)


def shapes_in_quarters(root, counts, kinds, seed=0) -> dict[str, int]:
    """root/split/class/*.png; returns each file's quarter."""
    rng, quarters = np.random.default_rng(seed), {}
    for split, n in counts.items():
        for kind in kinds:
            folder = root / split / kind
            folder.mkdir(parents=True)
            for index in range(n):
                quarter = int(rng.integers(4))
                path = folder / f"{index:03d}.png"
                draw(path, kind, quarter, rng)
                quarters[str(path)] = quarter
    return quarters


def mass_in_quarter(name: str, kinds: tuple[str, str], root, model_kwargs=None, lr=3e-3, per_class=120, epochs=5):
    """Train `name` from scratch on shapes in quarters; (accuracy, the automatic target, per test image: whether
    its shape's quarter holds the most map mass, and that quarter's share of the mass)."""
    quarters = shapes_in_quarters(root / "data", {"train": per_class, "test": 25}, kinds)
    datamodule = make_datamodule(root / "data", image_size=SIZE, batch_size=32, val_split=0.1,
                                 crop_mode="squash", backbone=name)
    torch.manual_seed(0)
    model = ImageClassifier({"name": name, "pretrained": False, "model_kwargs": model_kwargs or {}},
                            datamodule.class_names, datamodule.preprocessing,
                            optimizer={"opt": "adamw", "lr": lr, "weight_decay": 0.01}, finetune={"strategy": "full"})
    fit(model, datamodule, epochs)
    model.eval()
    target = choose_target(model, SIZE, None)
    test = datamodule.samples["test"]
    paths, labels = [path for path, _ in test], [label for _, label in test]
    crops = torch.from_numpy(np.concatenate(list(unit_images(paths, datamodule.preprocessing, 64))))
    mean = torch.tensor(datamodule.preprocessing["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(datamodule.preprocessing["std"]).view(1, 3, 1, 1)
    images = (crops - mean) / std
    with torch.no_grad():
        accuracy = (model(images).argmax(1).numpy() == np.array(labels)).mean()
    maps = activation_maps(model, images, labels, target)
    shares, right = [], []
    for cam, path in zip(maps, paths, strict=True):
        masses = [cam[r * HALF : (r + 1) * HALF, c * HALF : (c + 1) * HALF].sum() for r in range(2) for c in range(2)]
        shares.append(masses[quarters[path]] / max(sum(masses), 1e-9))
        right.append(int(np.argmax(masses)) == quarters[path])
    return accuracy, target, np.array(right), np.array(shares)


def test_a_trained_cnns_maps_put_most_of_their_mass_in_the_quarter_that_decides(tmp_path):
    accuracy, target, right, shares = mass_in_quarter("resnet18", ("across", "upright"), tmp_path)
    assert accuracy >= 0.9  # measured 1.0: the maps below are of a model that found the bars
    assert (target.name, target.grid) == ("layer3.1", (4, 4))  # layer4 is 2 x 2 at 64 px
    # Measured on 2 cores (AMD EPYC, AVX2), by thread count (the trained model differs): the bar's quarter holds
    # the most mass on 48 and 49 of the 50 test images, a median 53% and 55% of it (a quarter by chance: 25%; a
    # 4 x 4 map upsampled spreads some over the neighbours).
    assert right.mean() >= 0.8
    assert np.median(shares) >= 0.4


def test_a_trained_vits_maps_put_most_of_their_mass_in_the_quarter_that_decides(tmp_path):
    """A small ViT (8 px patches: an 8 x 8 grid at 64 px; 4 blocks) pooled by its class token: its map is taken on
    its last block's input, the tokens laid out as the patch grid."""
    accuracy, target, right, shares = mass_in_quarter(
        "vit_tiny_patch16_224", ("red", "blue"), tmp_path, {"patch_size": 8, "depth": 4}, lr=1e-3
    )
    assert accuracy >= 0.9  # measured 1.0
    assert (target.name, target.grid) == ("blocks.2", (8, 8))
    # Measured on 2 cores, with both thread counts: the square's quarter holds the most mass on 38 of the 50 test
    # images (a quarter by chance: 25%), all of it on more than half of them (median share 1.0); most of the
    # others' maps are empty (Grad-CAM keeps positive evidence only). A ViT from scratch is less settled than a CNN.
    assert right.mean() >= 0.6
    assert np.median(shares) >= 0.5
