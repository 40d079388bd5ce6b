"""A generated dataset so that everything runs offline: shapes drawn by PIL over noisy backgrounds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from inception_tl.data.sources.generated import GeneratedFolder
from inception_tl.errors import DataError

SHAPES = ("circle", "square", "triangle", "star")
# data.source.colour_coded's colours (red, green, blue, yellow): saturated, so no grey background is near one.
SHAPE_COLOURS = {"circle": (225, 40, 40), "square": (40, 200, 40), "triangle": (40, 80, 235), "star": (230, 200, 30)}


def _polygon(shape: str, cx: float, cy: float, radius: float, angle: float) -> list[tuple[float, float]]:
    corners = {"square": 4, "triangle": 3, "star": 10}[shape]
    points = []
    for k in range(corners):
        r = radius * (0.45 if shape == "star" and k % 2 else 1.0)
        theta = angle + 2 * math.pi * k / corners
        points.append((cx + r * math.cos(theta), cy + r * math.sin(theta)))
    return points


def noisy_background(size: int, rng: np.random.Generator, grey: bool = False) -> tuple[Image.Image, np.ndarray]:
    """A `size` x `size` image of one random colour (or `grey` level) plus noise, and that colour."""
    background = np.repeat(rng.integers(0, 256), 3) if grey else rng.integers(0, 256, 3)
    noise = rng.normal(0.0, 12.0, (size, size, 3))
    return Image.fromarray(np.clip(background + noise, 0, 255).astype(np.uint8), "RGB"), background


def paint_shape(
    image: Image.Image,
    shape: str,
    box: tuple[float, float, float],
    background: np.ndarray,
    rng: np.random.Generator,
    colour: tuple[int, int, int] | None = None,
) -> None:
    """Paint `shape` in `colour` (None: a random one that stands out from `background`) at a random size,
    position and rotation inside `box` = (left, top, side)."""
    left, top, side = box
    if colour is None:
        colour = rng.integers(0, 256, 3)
        while np.abs(colour - background).sum() < 200:  # keep the shape visible against its background
            colour = rng.integers(0, 256, 3)
    radius = rng.uniform(0.25, 0.42) * side
    cx, cy = left + rng.uniform(radius, side - radius), top + rng.uniform(radius, side - radius)
    angle = rng.uniform(0, 2 * math.pi)
    draw = ImageDraw.Draw(image)
    fill = tuple(int(c) for c in colour)
    if shape == "circle":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
    else:
        draw.polygon(_polygon(shape, cx, cy, radius, angle), fill=fill)


def draw_shape(shape: str, size: int, rng: np.random.Generator) -> Image.Image:
    """One `size` x `size` image of `shape` in a random colour, size, position and rotation."""
    image, background = noisy_background(size, rng)
    paint_shape(image, shape, (0.0, 0.0, float(size)), background, rng)
    return image


def draw_shapes(
    shapes: Sequence[str], size: int, rng: np.random.Generator, fixed_quarters: bool, colour_coded: bool = False
) -> Image.Image:
    """One image with each of `shapes` (at most 4) in its own quarter: a random one, or with `fixed_quarters`
    each shape's own (circle top left, square top right, triangle bottom left, star bottom right); with
    `colour_coded` each shape in its own colour (SHAPE_COLOURS) over a grey background."""
    image, background = noisy_background(size, rng, grey=colour_coded)
    half = size / 2
    quarters = [SHAPES.index(shape) for shape in shapes] if fixed_quarters else rng.permutation(4)
    for shape, quarter in zip(shapes, quarters, strict=False):
        colour = SHAPE_COLOURS[shape] if colour_coded else None
        paint_shape(image, shape, (half * (quarter % 2), half * (quarter // 2), half), background, rng, colour)
    return image


class Shapes(GeneratedFolder):
    """Write `train/` and `test/` folders of shape images once; the same seed gives the same files."""

    name = "shapes"

    def __init__(
        self, *, classes: Sequence[str], train_per_class: int, test_per_class: int, image_size: int, seed: int
    ) -> None:
        """The values come from the config (conf/data/shapes.yaml), their one statement."""
        unknown = sorted(set(classes) - set(SHAPES))
        if unknown:
            raise DataError(f"Unknown shapes {unknown}; data.source.classes may hold {list(SHAPES)}.")
        self.params = {
            "classes": list(classes),
            "train_per_class": int(train_per_class),
            "test_per_class": int(test_per_class),
            "image_size": int(image_size),
            "seed": int(seed),
        }

    def write(self, folder: Path) -> None:
        for split_index, (split, per_class) in enumerate(
            (("train", self.params["train_per_class"]), ("test", self.params["test_per_class"]))
        ):
            for class_index, shape in enumerate(self.params["classes"]):
                (folder / split / shape).mkdir(parents=True)
                rng = np.random.default_rng([self.params["seed"], split_index, class_index])
                for index in range(per_class):
                    draw_shape(shape, self.params["image_size"], rng).save(folder / split / shape / f"{index:04d}.png")


class ShapeTags(GeneratedFolder):
    """A generated multi-label set (data=shape_tags): each image holds 1 to 3 of the four shapes, each in its own
    quarter, listed in `labels.csv` (path, label: the shapes separated by ";", split: train or test); the same
    seed gives the same files. Read back like any user's CSV. `fixed_quarters`: each shape always in its own
    quarter, an easier task (where, rather than what) that a short run from scratch learns. `colour_coded`: each
    shape in its own colour as well, the easiest (colour alone tells it), learnt in a few dozen steps."""

    name = "shape-tags"

    def __init__(
        self,
        *,
        train_images: int,
        test_images: int,
        image_size: int,
        seed: int,
        fixed_quarters: bool,
        colour_coded: bool,
    ) -> None:
        """The values come from the config (conf/data/shape_tags.yaml), their one statement."""
        self.params = {"train_images": int(train_images), "test_images": int(test_images)}
        self.params |= {"image_size": int(image_size), "seed": int(seed), "fixed_quarters": bool(fixed_quarters)}
        self.params["colour_coded"] = bool(colour_coded)

    def write(self, folder: Path) -> None:
        rows = []
        for split_index, split in enumerate(("train", "test")):
            rng = np.random.default_rng([self.params["seed"], split_index])
            (folder / split).mkdir()
            for index in range(self.params[f"{split}_images"]):
                chosen = [SHAPES[k] for k in sorted(rng.choice(4, size=rng.integers(1, 4), replace=False))]
                name = f"{split}/{index:04d}.png"
                image = draw_shapes(
                    chosen, self.params["image_size"], rng, self.params["fixed_quarters"], self.params["colour_coded"]
                )
                image.save(folder / name)
                rows.append(f"{name},{';'.join(chosen)},{split}\n")
        (folder / "labels.csv").write_text("path,label,split\n" + "".join(rows))
