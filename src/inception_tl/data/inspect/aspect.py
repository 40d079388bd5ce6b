"""The shape of the images (width over height), and what the crop keeps of them: a centre crop of a 2:1 image
keeps its middle half, and whatever decides the class at its edges is lost without a word."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

# Warn when the centre crop would drop more than this share of a typical image.
DROPPED_WARNING = 0.25


@dataclass(frozen=True)
class AspectRatios:
    """Width / height of a split's images: the median and the 5th and 95th percentiles."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, sizes: Sequence[tuple[int, int]]) -> AspectRatios | None:
        """From (width, height) pairs; None without any."""
        if not sizes:
            return None
        ratios = np.array([width / height for width, height in sizes])
        low, median, high = np.percentile(ratios, [5, 50, 95])
        return cls(round(float(median), 3), round(float(low), 3), round(float(high), 3))

    @property
    def dropped_by_centre_crop(self) -> float:
        """The share of a typical (median) image outside the centre square: 1 - short side / long side."""
        return 1 - min(self.median, 1 / self.median)

    def describe(self) -> str:
        return f"median {self.median:.2f}, 5% to 95% of them {self.low:.2f} to {self.high:.2f}"

    def note(self, crop_mode: str) -> str | None:
        """A warning when the centre crop would drop more than DROPPED_WARNING of a typical image."""
        dropped = self.dropped_by_centre_crop
        if crop_mode != "center" or dropped <= DROPPED_WARNING:
            return None
        side = "left and right" if self.median > 1 else "top and bottom"
        return (
            f"The training images are {self.median:.2f}:1 (width:height, median): the centre crop "
            f"(data.crop_mode=center) drops {dropped:.0%} of a typical image, at its {side}. If what decides the class "
            "can lie there, set data.crop_mode=squash (stretch to a square) or data.crop_mode=border (pad to a square)."
        )

    def as_dict(self) -> dict[str, float]:
        return asdict(self)
