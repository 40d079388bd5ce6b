"""The device's part of the data path: each uint8 batch finished where the model runs (Lightning's
`on_after_batch_transfer`): training images warped (crop, flip and affine in one resampling), the others cut
to timm's evaluation crop, then normalised. On a GPU the loader workers only slice bytes; on the CPU the same
code runs on CPU tensors. Nothing here reads a value back from the device."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from inception_tl.data.device.colour_ops import apply_colour, erase
from inception_tl.data.device.resize import FILTERS, eval_crop
from inception_tl.errors import ConfigError

# grid_sample's modes for timm's interpolation names.
GRID_MODES = {"bicubic": "bicubic", "bilinear": "bilinear", "lanczos": "bicubic"}


class BatchTransform:
    """Warp (and colour, erasing) or evaluation crop, and timm's normalisation: uint8 batches in, float32 model
    inputs out."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], size: int, interpolation: str) -> None:
        if interpolation not in FILTERS:
            raise ConfigError(
                f"The backbone's preprocessing uses {interpolation!r} interpolation; the device data path "
                f"reproduces {sorted(FILTERS)}."
            )
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self.size, self.interpolation = size, interpolation
        self._constants: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def for_preprocessing(cls, preprocessing: Mapping[str, Any]) -> BatchTransform:
        """From timm's data config (mean, std, input size, interpolation)."""
        config = preprocessing
        return cls(config["mean"], config["std"], config["input_size"][-1], config["interpolation"])

    def _on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """mean and std on `device`, copied there once."""
        if device not in self._constants:
            self._constants[device] = (self.mean.to(device), self.std.to(device))
        return self._constants[device]

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixel values in [0, 255] (uint8 or float) to float32 (x / 255 - mean) / std, in torchvision's order of
        operations (`ToTensor`, `Normalize`), so evaluation inputs equal timm's to the bit."""
        mean, std = self._on(pixels.device)
        return (pixels.float() / 255 - mean) / std

    def warp(self, pixels: torch.Tensor, thetas: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
        """Resample each image (values in [0, 1]) through its `affine_grid` theta into `size` x `size`; outside the
        image: the mean colour, as torchvision's `RandomAffine(fill=mean)` intends."""
        grid = F.affine_grid(thetas, [len(pixels), 3, self.size, self.size], align_corners=False)
        mode = GRID_MODES[self.interpolation]
        # Bicubic resampling overshoots at edges; PIL's uint8 output clips to [0, 255], so do we.
        warped = F.grid_sample(pixels, grid, mode=mode, padding_mode="border", align_corners=False).clamp(0, 1)
        # Each image's extent in the canvas's normalised coordinates (x, y): beyond it lies the fill colour.
        canvas_h, canvas_w = pixels.shape[-2:]
        extents = torch.stack([sizes[:, 1] * (2 / canvas_w), sizes[:, 0] * (2 / canvas_h)], dim=-1) - 1
        inside = ((grid >= -1) & (grid <= extents.view(-1, 1, 1, 2))).all(dim=-1)
        mean, _ = self._on(pixels.device)
        return torch.where(inside.unsqueeze(1), warped, mean)

    def __call__(self, batch: Mapping[str, Any]) -> torch.Tensor:
        """Model inputs (N, 3, size, size) from a batch of uint8 (N, H, W, 3) pixels, as the workers store them
        (read as (N, 3, H, W) in channels-last memory: no copy). Training batches: warp, colour, normalise,
        erase, in timm's order of its train transform."""
        images = batch["images"].permute(0, 3, 1, 2)
        if "thetas" in batch:
            pixels = self.warp(images.float() / 255, batch["thetas"].float(), batch["sizes"])
            if "colour" in batch:
                pixels = apply_colour(pixels, batch["colour"])
            mean, std = self._on(pixels.device)
            inputs = (pixels - mean) / std
            return erase(inputs, batch["erase"], batch["noise_seed"]) if "erase" in batch else inputs
        crops = eval_crop(images, batch["sizes"], batch["boxes"], self.size, self.interpolation, batch["resampling"])
        return self.normalise(crops)
