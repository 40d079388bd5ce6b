"""Class-activation maps mean something: trained on images whose class is a bar drawn in a random quarter (the
rest noise), a CNN's maps, on the stage chosen automatically, put most of their mass in the bar's quarter."""

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
    """Grey noise, and a black or white bar (horizontal: class `across`, vertical: `upright`) in `quarter`."""
    image = Image.fromarray(rng.integers(60, 196, (SIZE, SIZE, 3), dtype=np.uint8))
    row, column = divmod(quarter, 2)
    cy, cx = row * HALF + HALF // 2 + rng.integers(-2, 3), column * HALF + HALF // 2 + rng.integers(-2, 3)
    long, short = rng.integers(9, 13), 3
    half_h, half_w = (short, long) if kind == "across" else (long, short)
    colour = (255, 255, 255) if rng.random() < 0.5 else (0, 0, 0)
    ImageDraw.Draw(image).rectangle([cx - half_w, cy - half_h, cx + half_w, cy + half_h], fill=colour)
    image.save(path)


def bars(root, counts, seed=0) -> dict[str, int]:
    """root/split/class/*.png; returns each file's quarter."""
    rng, quarters = np.random.default_rng(seed), {}
    for split, n in counts.items():
        for kind in ("across", "upright"):
            folder = root / split / kind
            folder.mkdir(parents=True)
            for index in range(n):
                quarter = int(rng.integers(4))
                path = folder / f"{index:03d}.png"
                draw(path, kind, quarter, rng)
                quarters[str(path)] = quarter
    return quarters


def test_a_trained_cnns_maps_put_most_of_their_mass_in_the_quarter_that_decides(tmp_path):
    quarters = bars(tmp_path / "bars", {"train": 120, "test": 25})
    datamodule = make_datamodule(tmp_path / "bars", image_size=SIZE, batch_size=32, val_split=0.1,
                                 crop_mode="squash", backbone="resnet18")
    torch.manual_seed(0)
    model = ImageClassifier({"name": "resnet18", "pretrained": False}, datamodule.class_names,
                            datamodule.preprocessing, optimizer={"opt": "adamw", "lr": 3e-3, "weight_decay": 0.01},
                            finetune={"strategy": "full"})
    fit(model, datamodule, 5)
    model.eval()
    target = choose_target(model, SIZE, None)
    assert (target.name, target.grid) == ("layer3.1", (4, 4))  # layer4 is 2 x 2 at 64 px
    test = datamodule.samples["test"]
    paths, labels = [path for path, _ in test], [label for _, label in test]
    crops = torch.from_numpy(np.concatenate(list(unit_images(paths, datamodule.preprocessing, 64))))
    mean = torch.tensor(datamodule.preprocessing["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(datamodule.preprocessing["std"]).view(1, 3, 1, 1)
    images = (crops - mean) / std
    with torch.no_grad():
        accuracy = (model(images).argmax(1).numpy() == np.array(labels)).mean()
    assert accuracy >= 0.9  # measured 1.0: the bars are easy; the maps below are of a model that found them
    maps = activation_maps(model, images, labels, target)
    shares, right = [], []
    for cam, path in zip(maps, paths, strict=True):
        masses = [cam[r * HALF : (r + 1) * HALF, c * HALF : (c + 1) * HALF].sum() for r in range(2) for c in range(2)]
        shares.append(masses[quarters[path]] / max(sum(masses), 1e-9))
        right.append(int(np.argmax(masses)) == quarters[path])
    # Measured on 2 cores (AMD EPYC, AVX2), by thread count (the trained model differs): the bar's quarter holds
    # the most mass on 48 and 49 of the 50 test images, a median 53% and 55% of it (a quarter by chance: 25%; a
    # 4 x 4 map upsampled spreads some over the neighbours).
    assert np.mean(right) >= 0.8
    assert np.median(shares) >= 0.4
