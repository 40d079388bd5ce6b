"""Shared fixtures: image trees written by the test, a loopback HTTP server, composed Hydra configs."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict
from PIL import Image

from inception_tl.config.schema import register_schemas
from inception_tl.data import ImageDataModule
from inception_tl.data.sources import ImageFolder

REPO = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist workers share the machine's cores: one thread each, for this process and the CLIs it starts.
    # Otherwise each process starts a thread per core and they oversubscribe the cores (measured on 2 cores:
    # 7 min 32 s for the suite with one thread each, 8 min 46 s with the CLIs at torch's default).
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
CONFIG_DIR = REPO / "conf"


def write_image_tree(root: Path, counts: Mapping[str, Mapping[str, int]], size: int = 80, seed: int = 0) -> Path:
    """Write `counts[split][class]` random RGB PNGs under root/split/class/."""
    rng = np.random.default_rng(seed)
    for split, per_class in counts.items():
        for name, n in per_class.items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(n):
                pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{name}-{index:03d}.png")
    return root


def calibrated_classifier(backbone: str, class_names: list[str], image_size: int = 75, seed: int = 0):
    """An untrained ImageClassifier in eval mode whose BatchNorm statistics come from a few random batches.

    With the initial statistics (mean 0, variance 1) the deep stack saturates the softmax to one-hot
    outputs, which would make any comparison of probabilities trivially equal.
    """
    import torch

    from inception_tl.data.transforms import resolve_preprocessing
    from inception_tl.models import ImageClassifier

    torch.manual_seed(seed)
    preprocessing = resolve_preprocessing(backbone, image_size)
    model = ImageClassifier({"name": backbone, "pretrained": False}, class_names, preprocessing)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = None  # a plain average over the batches
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(8, 3, image_size, image_size) * 2 - 1)
    return model.eval()


def make_datamodule(root: Path, **kwargs) -> ImageDataModule:
    """An ImageFolder datamodule at the smallest Inception size, set up for fitting, its decoded-image
    cache beside `root`."""
    options = {"backbone": "inception_v3", "image_size": 75, "batch_size": 4, "num_workers": 0, "seed": 0}
    options["cache_dir"] = str(root.parent / f"{root.name}-decoded")
    datamodule = ImageDataModule(ImageFolder(), str(root), **{**options, **kwargs})
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


@pytest.fixture
def image_tree(tmp_path: Path) -> Callable[..., Path]:
    return functools.partial(write_image_tree, tmp_path / "images")


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, folder): a loopback server for files the test puts into the folder."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # keep pytest output readable
        pass


def compose_config(overrides: list[str], output_dir: Path | None = None, config_name: str = "train") -> DictConfig:
    """conf/<config_name>.yaml composed as `python <config_name>.py OVERRIDES` would, with the run directory set."""
    register_schemas()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    if output_dir is not None:
        cfg.hydra.runtime.output_dir = str(output_dir)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
    return cfg
