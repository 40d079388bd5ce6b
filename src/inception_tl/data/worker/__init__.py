"""Stage 4 of the data path: what a loader worker does per image (`items.py`: read the stored pixels, draw the
training warp from the image's own seed, `augment.py`, or work out its evaluation crop box) and per batch
(`collate.py`), in the order the resumable sampler gives (`sampling.py`); threads in the training process
for cached images (`threads.py`), torch's worker processes otherwise (`loader.py`)."""

from inception_tl.data.worker.augment import Augment
from inception_tl.data.worker.collate import collate_features, collate_files, collate_images
from inception_tl.data.worker.items import FeatureSplit, ImageFiles, SplitImages
from inception_tl.data.worker.loader import make_loader
from inception_tl.data.worker.sampling import ResumableShuffleSampler
from inception_tl.data.worker.threads import ThreadLoader

__all__ = [
    "Augment",
    "FeatureSplit",
    "ImageFiles",
    "ResumableShuffleSampler",
    "SplitImages",
    "ThreadLoader",
    "collate_features",
    "collate_files",
    "collate_images",
    "make_loader",
]
