"""The device's part of the data path: uint8 batches to normalised floats, with each image's warp applied.

Runs where the model runs (Lightning's `on_after_batch_transfer`), so on a GPU the loader workers only
slice bytes and the arithmetic happens on the GPU; on the CPU the same code runs on CPU tensors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

# grid_sample's modes for timm's interpolation names.
GRID_MODES = {"bicubic": "bicubic", "bilinear": "bilinear", "nearest": "nearest"}


class BatchTransform:
    """Normalise with timm's mean and std; warp (crop, flip and affine in one resampling) where given.

    Normalising first makes the fill colour of areas a rotation or shift brings in exactly the mean,
    i.e. 0, as torchvision's `RandomAffine(fill=mean)` intends.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], size: int, interpolation: str) -> None:
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1) * 255
        self.size = size
        self.mode = GRID_MODES.get(interpolation, "bilinear")
        # Bicubic resampling overshoots at edges; PIL's uint8 output clips to [0, 255], so do we.
        self.low, self.high = -self.mean / self.std, (255 - self.mean) / self.std
        self._constants: dict[torch.device, tuple[torch.Tensor, ...]] = {}

    def _on(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        """mean, std and the clamp limits on `device`, copied there once."""
        if device not in self._constants:
            self._constants[device] = tuple(t.to(device) for t in (self.mean, self.std, self.low, self.high))
        return self._constants[device]

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 3, H, W) in [0, 255] to float32 (x / 255 - mean) / std."""
        mean, std, _, _ = self._on(images.device)
        return (images.float() - mean) / std

    def warp(self, images: torch.Tensor, thetas: torch.Tensor, extents: torch.Tensor) -> torch.Tensor:
        """Resample each image through its `affine_grid` theta into `size` x `size`; outside the image: 0."""
        grid = F.affine_grid(thetas, [len(images), 3, self.size, self.size], align_corners=False)
        warped = F.grid_sample(images, grid, mode=self.mode, padding_mode="border", align_corners=False)
        _, _, low, high = self._on(images.device)
        warped = torch.clamp(warped, low, high)
        limit = extents.view(-1, 1, 1, 2)
        inside = ((grid >= -1) & (grid <= limit)).all(dim=-1)
        return warped * inside.unsqueeze(1)

    def __call__(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        images = self.normalise(batch["images"])
        if "thetas" in batch:
            images = self.warp(images, batch["thetas"].float(), batch["extents"].float())
        return images
