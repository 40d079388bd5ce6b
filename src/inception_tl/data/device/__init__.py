"""Stage 5 of the data path: what the training device does per batch (`batch_transform.py`): the warp of each
training image, timm's evaluation crop of the others (`resize.py`, PIL's arithmetic on the device), and the
normalisation."""

from inception_tl.data.device.batch_transform import BatchTransform

__all__ = ["BatchTransform"]
