"""CIFAR-10 is written out as an ImageFolder tree from torchvision's own (MD5-verified) files."""

import hashlib
import pickle

import numpy as np
from PIL import Image
from torchvision.datasets import CIFAR10

from inception_tl.data.inspect.scan import scan_folder
from inception_tl.data.options import VerifyMode
from inception_tl.data.sources import Cifar10

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_batches(raw_dir, per_batch: int):
    """Files in CIFAR-10's python format; returns the MD5 list torchvision should expect."""
    folder = raw_dir / CIFAR10.base_folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [name for name, _ in CIFAR10.train_list + CIFAR10.test_list]
    for name in names:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [i % 10 for i in range(per_batch)]
        (folder / name).write_bytes(pickle.dumps({"data": data, "labels": labels}))
    (folder / CIFAR10.meta["filename"]).write_bytes(pickle.dumps({"label_names": CLASSES}))
    return {name: hashlib.md5((folder / name).read_bytes()).hexdigest() for name in [*names, "batches.meta"]}


def test_cifar10_files_become_png_folders_with_the_same_pixels(tmp_path, monkeypatch):
    md5 = write_batches(tmp_path / "cifar10" / "raw", per_batch=20)
    # The files are the test's own, so torchvision must check them against their own MD5s.
    monkeypatch.setattr(CIFAR10, "train_list", [[n, md5[n]] for n, _ in CIFAR10.train_list])
    monkeypatch.setattr(CIFAR10, "test_list", [[n, md5[n]] for n, _ in CIFAR10.test_list])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5["batches.meta"]})

    root = tmp_path / "cifar10"
    Cifar10(download=False).prepare(root)
    scan = scan_folder(root, VerifyMode.header, workers=1, fingerprints=False)
    assert scan.class_names == CLASSES
    assert scan.problems == []
    assert scan.bad_images == []
    assert scan.not_images == []
    train, test = scan.samples["train"], scan.samples["test"]
    assert (len(train), len(test)) == (100, 20)

    reference = CIFAR10(str(root / "raw"), train=False)
    image, label = reference[7]
    written = Image.open(root / "test" / CLASSES[label] / "00007.png")
    assert np.array_equal(np.asarray(written), np.asarray(image))
