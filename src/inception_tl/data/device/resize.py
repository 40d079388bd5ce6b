"""timm's evaluation crop on the device, equal to its PIL transform to the last bit: resize the shorter side to
`floor(size / crop_pct)`, then take the centre `size` x `size`.

PIL resizes in two passes (along each row, then each column), each a convolution with its filter, in 32-bit
integers: the weights in 22-bit fixed point, the pixels rounded to 8 bits after each pass. Here each pass sums
the few taps of each output pixel with PIL's own weights in the same integer arithmetic, so the result equals
PIL's bit for bit (a test compares random sizes). A side that needs no resampling in a whole batch (images
stored at the resize size: every photo larger than it) is only cut, which the loader worker tells the device.
torchvision's tensor resize (`antialias=True`) and `grid_sample` come within 2 and 30 levels of 255 of it, not
equal, which would change a checkpoint's metrics between `eval.py` and the training run's own test pass. Only
the rows and columns of the crop are computed.

Images arrive here at most at the resize size: the store reduces larger ones with PIL itself, to exactly the
size timm's resize gives (`store.decode`), so the device only enlarges or keeps a side, never reduces it
(reducing would widen the filter by the scale); the worker's `eval_crop_box` refuses an image that would need it.
"""

from __future__ import annotations

import math

import torch

# PIL's ImagingResample: fixed-point weights with this many fractional bits for 8-bit images.
PRECISION_BITS = 32 - 8 - 2
# Images resampled at once: bounds the working memory (about 2.5 MiB an image at 341 px).
CHUNK = 32


def bicubic(x: torch.Tensor) -> torch.Tensor:
    """PIL's bicubic kernel (a = -0.5), support 2."""
    a, x = -0.5, x.abs()
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return torch.where(x < 1, near, torch.where(x < 2, far, torch.zeros_like(x)))


def bilinear(x: torch.Tensor) -> torch.Tensor:
    """PIL's triangle kernel, support 1."""
    return (1 - x.abs()).clamp(min=0)


def lanczos(x: torch.Tensor) -> torch.Tensor:
    """PIL's Lanczos kernel, support 3."""
    return torch.where(x.abs() < 3, torch.sinc(x) * torch.sinc(x / 3), torch.zeros_like(x))


FILTERS = {"bicubic": (bicubic, 2.0), "bilinear": (bilinear, 1.0), "lanczos": (lanczos, 3.0)}


def axis_taps(
    in_sizes: torch.Tensor, out_sizes: torch.Tensor, start: torch.Tensor, count: int, interpolation: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices, weights), each (N, count, taps): for output pixels start..start+count of resizing each image's
    axis from `in_sizes` up to `out_sizes`, the input pixels they read and PIL's weights for them
    (`precompute_coeffs` in float64, then its fixed-point int32; 0 for taps beyond the window)."""
    kernel, support = FILTERS[interpolation]
    device = in_sizes.device
    in_size = in_sizes.to(torch.float64)[:, None, None]
    scale = in_size / out_sizes.to(torch.float64)[:, None, None]
    outputs = start.to(torch.float64)[:, None, None] + torch.arange(count, dtype=torch.float64, device=device)[:, None]
    centre = (outputs + 0.5) * scale
    first = torch.trunc(centre - support + 0.5).clamp(min=0)
    stop = torch.minimum(torch.trunc(centre + support + 0.5), in_size)
    x = first + torch.arange(2 * math.ceil(support) + 1, dtype=torch.float64, device=device)
    weights = torch.where(x < stop, kernel(x - centre + 0.5), torch.zeros_like(x))
    total = weights.sum(-1, keepdim=True)
    weights = torch.where(total != 0, weights / total, weights)
    unit = 2.0**PRECISION_BITS
    fixed = torch.where(weights < 0, torch.trunc(weights * unit - 0.5), torch.trunc(weights * unit + 0.5))
    return torch.minimum(x, in_size - 1).long(), fixed.to(torch.int32)


def resample(pixels: torch.Tensor, indices: torch.Tensor, weights: torch.Tensor, dim: int) -> torch.Tensor:
    """One pass along `dim` (2: rows, 3: columns) of (n, C, H, W) int32 pixels, rounded to 8 bits as PIL does."""
    shape = list(pixels.shape)
    shape[dim] = indices.shape[1]
    view = (-1, 1, indices.shape[1], 1) if dim == 2 else (-1, 1, 1, indices.shape[1])
    sums = torch.full(shape, 1 << (PRECISION_BITS - 1), dtype=torch.int32, device=pixels.device)
    for tap in range(indices.shape[-1]):
        index = indices[..., tap].view(view).expand(shape)
        sums += weights[..., tap].view(view) * pixels.gather(dim, index)
    return (sums >> PRECISION_BITS).clamp(0, 255)  # PIL's clip8


def cut(pixels: torch.Tensor, start: torch.Tensor, count: int, dim: int) -> torch.Tensor:
    """`count` pixels along `dim` from each image's `start`: the pass when no image of the batch is resampled."""
    shape = list(pixels.shape)
    shape[dim] = count
    view = (-1, 1, count, 1) if dim == 2 else (-1, 1, 1, count)
    index = start[:, None] + torch.arange(count, device=pixels.device)
    return pixels.gather(dim, index.view(view).expand(shape))


def eval_crop(
    images: torch.Tensor,
    sizes: torch.Tensor,
    boxes: torch.Tensor,
    size: int,
    interpolation: str,
    resampling: tuple[bool, bool] = (True, True),
) -> torch.Tensor:
    """timm's eval crop of each image, exactly as PIL computes it, as float32 pixel values in [0, 255].

    images: uint8 (N, 3, H, W) canvases holding each image at the top left; sizes: (N, 2) each image's height
    and width; boxes: (N, 4) its `worker.eval_crop.eval_crop_box`; resampling: `needs_resampling` of the batch
    (the rows, the columns), whose passes are otherwise cuts. Returns (N, 3, size, size).
    """
    if interpolation not in FILTERS:
        raise ValueError(f"No device resize for interpolation {interpolation!r}; choose one of {sorted(FILTERS)}.")
    rows_change, columns_change = resampling
    outputs = []
    for begin in range(0, len(images), CHUNK):
        part, box, extent = images[begin : begin + CHUNK], boxes[begin : begin + CHUNK], sizes[begin : begin + CHUNK]
        pixels = part
        if columns_change:  # PIL's first pass: along each row
            taps = axis_taps(extent[:, 1], box[:, 1], box[:, 3], size, interpolation)
            pixels = resample(pixels.to(torch.int32), *taps, dim=3)
        else:
            pixels = cut(pixels, box[:, 3], size, dim=3)
        if rows_change:
            taps = axis_taps(extent[:, 0], box[:, 0], box[:, 2], size, interpolation)
            pixels = resample(pixels.to(torch.int32), *taps, dim=2)
        else:
            pixels = cut(pixels, box[:, 2], size, dim=2)
        outputs.append(pixels.to(torch.float32))
    return torch.cat(outputs)
