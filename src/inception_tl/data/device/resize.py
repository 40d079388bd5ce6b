"""timm's evaluation crop on the device, equal to its PIL transform to the last bit: resize the shorter side to
`floor(size / crop_pct)`, then take the centre `size` x `size`.

PIL resizes in two passes (along each row, then each column), each a convolution with the filter stretched
over the scale when reducing; it rounds the weights to 22-bit fixed point and the pixels to 8 bits after each
pass. Here each pass is a batched matrix product with PIL's own weights in float64, where those integer
sums are exact, so the result equals PIL's bit for bit (a test compares random sizes both ways).
torchvision's tensor resize (`antialias=True`) and `grid_sample` come within 2 and 30 levels of 255 of it,
not equal, which would change a checkpoint's metrics between `eval.py` and the training run's own test pass.
Only the rows and columns of the crop are computed.
"""

from __future__ import annotations

import torch

# PIL's ImagingResample: fixed-point weights with this many fractional bits for 8-bit images.
PRECISION_BITS = 32 - 8 - 2
# Images resampled at once: bounds the float64 working memory (about 25 MiB an image at 341 px).
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


def resized_shape(height: int, width: int, shorter_side: int) -> tuple[int, int]:
    """torchvision's `Resize(shorter_side)` output size, up or down (unchanged when the shorter side fits)."""
    short, long = min(height, width), max(height, width)
    if short == shorter_side:
        return height, width
    new_long = int(shorter_side * long / short)
    return (shorter_side, new_long) if height <= width else (new_long, shorter_side)


def axis_weights(
    in_sizes: torch.Tensor, out_sizes: torch.Tensor, start: torch.Tensor, count: int, canvas: int, interpolation: str
) -> torch.Tensor:
    """(N, count, canvas) float64 weights: output pixels start..start+count of resizing each image's axis from
    `in_sizes` to `out_sizes`, as PIL computes them (`precompute_coeffs`, then rounded to fixed point)."""
    kernel, support = FILTERS[interpolation]
    device = in_sizes.device
    in_size = in_sizes.to(torch.float64)[:, None, None]
    scale = in_size / out_sizes.to(torch.float64)[:, None, None]
    stretch = scale.clamp(min=1.0)  # reducing: the filter widens over the scale (antialiasing)
    reach = support * stretch
    outputs = start.to(torch.float64)[:, None, None] + torch.arange(count, dtype=torch.float64, device=device)[:, None]
    centre = (outputs + 0.5) * scale
    first = torch.trunc(centre - reach + 0.5).clamp(min=0)
    stop = torch.minimum(torch.trunc(centre + reach + 0.5), in_size)
    x = torch.arange(canvas, dtype=torch.float64, device=device)
    weights = kernel((x - centre + 0.5) / stretch)
    weights = torch.where((x >= first) & (x < stop), weights, torch.zeros_like(weights))
    total = weights.sum(-1, keepdim=True)
    weights = torch.where(total != 0, weights / total, weights)
    unit = 2.0**PRECISION_BITS
    return torch.where(weights < 0, torch.trunc(weights * unit - 0.5), torch.trunc(weights * unit + 0.5))


def round_to_pixels(sums: torch.Tensor) -> torch.Tensor:
    """PIL's rounding of a fixed-point sum to an 8-bit pixel: half up, clipped to [0, 255]."""
    return torch.floor((sums + 2.0 ** (PRECISION_BITS - 1)) / 2.0**PRECISION_BITS).clamp(0, 255)


def crop_box(height: int, width: int, resize: int, size: int) -> tuple[int, int, int, int]:
    """(resized height, resized width, top, left): where timm's eval transform puts an image of this size, as
    torchvision's `Resize(resize)` and `CenterCrop(size)` compute it. Worked out per image in the loader
    worker, so the device needs no value back from its own tensors."""
    resized_h, resized_w = resized_shape(height, width, resize)
    return resized_h, resized_w, round((resized_h - size) / 2.0), round((resized_w - size) / 2.0)


@torch.autocast("cuda", enabled=False)
@torch.autocast("cpu", enabled=False)
def eval_crop(
    images: torch.Tensor, sizes: torch.Tensor, boxes: torch.Tensor, size: int, interpolation: str
) -> torch.Tensor:
    """timm's eval crop of each image, exactly as PIL computes it, as float32 pixel values in [0, 255].

    images: uint8 (N, 3, H, W) canvases holding each image at the top left; sizes: (N, 2) each image's height
    and width; boxes: (N, 4) its `crop_box`. Returns (N, 3, size, size).
    """
    if interpolation not in FILTERS:
        raise ValueError(f"No device resize for interpolation {interpolation!r}; choose one of {sorted(FILTERS)}.")
    canvas_h, canvas_w = images.shape[-2:]
    outputs = []
    for begin in range(0, len(images), CHUNK):
        part, box, extent = images[begin : begin + CHUNK], boxes[begin : begin + CHUNK], sizes[begin : begin + CHUNK]
        across = axis_weights(extent[:, 1], box[:, 1], box[:, 3], size, canvas_w, interpolation)
        down = axis_weights(extent[:, 0], box[:, 0], box[:, 2], size, canvas_h, interpolation)
        rows = round_to_pixels(part.to(torch.float64) @ across.transpose(1, 2)[:, None])  # (n, 3, H, size)
        outputs.append(round_to_pixels(down[:, None] @ rows).to(torch.float32))  # (n, 3, size, size)
    return torch.cat(outputs)
