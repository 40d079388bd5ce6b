"""Where timm's evaluation crop lies in each image (resize the shorter side, cut the centre), worked out per image
in the loader worker so that the device (device/resize.py, which resamples) reads nothing back from its own
tensors."""

from __future__ import annotations

from inception_tl.data.preprocessing import resized_shape


def eval_crop_box(height: int, width: int, resize: int, size: int) -> tuple[int, int, int, int]:
    """(resized height, resized width, top, left): where timm's eval transform puts an image of this size, as
    torchvision's `Resize(resize)` and `CenterCrop(size)` compute it. Worked out per image in the loader
    worker, so the device needs no value back from its own tensors."""
    resized_h, resized_w = resized_shape(height, width, resize)
    if resized_h < height or resized_w < width:
        raise ValueError(
            f"A {width} x {height} image would be reduced on the device; images reach it at most at the resize "
            f"size ({resize} px on the shorter side), reduced by the store (store.decode.decode_for_storage)."
        )
    return resized_h, resized_w, round((resized_h - size) / 2.0), round((resized_w - size) / 2.0)


def needs_resampling(sizes: list[tuple[int, int]], boxes: list[tuple[int, int, int, int]]) -> tuple[bool, bool]:
    """Whether any image of a batch changes height, and whether any changes width, in its `eval_crop_box`: worked out
    by the loader worker, so the device knows which passes to run without reading its own tensors."""
    rows = any(box[0] != height for (height, _), box in zip(sizes, boxes, strict=True))
    columns = any(box[1] != width for (_, width), box in zip(sizes, boxes, strict=True))
    return rows, columns
