"""horse_human end to end against a loopback server serving zips with the real layout."""

import hashlib
import io
import zipfile

import pytest
from hydra.utils import instantiate
from PIL import Image

from inception_tl.errors import DataError, DownloadError
from tests.helpers import compose_config


def build_zip(path, counts: dict[str, int]) -> None:
    """A zip laid out like the official one: horses/*.png, humans/*.png (RGBA, as the originals)."""
    with zipfile.ZipFile(path, "w") as archive:
        for folder, n in counts.items():
            for index in range(n):
                buffer = io.BytesIO()
                Image.new("RGBA", (80, 80), (index * 20 % 256, 90, 30, 255)).save(buffer, "PNG")
                archive.writestr(f"{folder}/{folder[:-1]}{index:02d}-0.png", buffer.getvalue())


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def served_archives(http_server):
    base_url, folder = http_server
    build_zip(folder / "horse-or-human.zip", {"horses": 10, "humans": 10})
    build_zip(folder / "validation-horse-or-human.zip", {"horses": 3, "humans": 3})
    return base_url, folder


def horse_human_overrides(base_url, folder, tmp_path, test_sha=None):
    overrides = [
        "data=horse_human",
        f"paths.data_dir={tmp_path / 'cache'}",
        "data.image_size=75",
        "data.num_workers=0",
        "data.val_split=0.2",
    ]
    for split, name in (("train", "horse-or-human.zip"), ("test", "validation-horse-or-human.zip")):
        sha = test_sha if (split == "test" and test_sha) else digest(folder / name)
        overrides += [
            f"data.source.{split}.url={base_url}/{name}",
            f"data.source.{split}.sha256={sha}",
            f"data.source.{split}.size={(folder / name).stat().st_size}",
        ]
    return overrides


def test_downloads_verifies_extracts_and_loads(served_archives, tmp_path):
    base_url, folder = served_archives
    cfg = compose_config(horse_human_overrides(base_url, folder, tmp_path), tmp_path / "run")
    datamodule = instantiate(cfg.data, backbone=cfg.backbone.name)
    datamodule.prepare_data()
    datamodule.setup("fit")
    assert datamodule.class_names == ["horses", "humans"]
    assert {s: len(v) for s, v in datamodule.samples.items()} == {"train": 16, "val": 4, "test": 6}
    cached = tmp_path / "cache" / "downloads"
    assert digest(cached / "horse-or-human.zip") == digest(folder / "horse-or-human.zip")
    images, labels, _ = datamodule.on_after_batch_transfer(next(iter(datamodule.test_dataloader())), 0)
    assert images.shape[1:] == (3, 75, 75)
    assert set(labels.tolist()) <= {0, 1}


def test_a_wrong_checksum_is_refused_and_leaves_no_file(served_archives, tmp_path):
    base_url, folder = served_archives
    wrong = "0" * 64
    cfg = compose_config(horse_human_overrides(base_url, folder, tmp_path, test_sha=wrong), tmp_path / "run")
    datamodule = instantiate(cfg.data, backbone=cfg.backbone.name)
    with pytest.raises(DownloadError) as error:
        datamodule.prepare_data()
    message = str(error.value)
    assert wrong in message
    assert digest(folder / "validation-horse-or-human.zip") in message
    assert "data.root" in message  # tells the user how to proceed without the download
    downloads = tmp_path / "cache" / "downloads"
    assert not any(
        p.name.startswith(("validation-horse-or-human", ".validation")) and not p.name.endswith(".lock")
        for p in downloads.iterdir()
    )
    assert not (tmp_path / "cache" / "horse_human" / "test").exists()


def test_an_unreachable_server_explains_where_to_put_the_zips(tmp_path):
    overrides = ["data=horse_human", f"paths.data_dir={tmp_path}", "data.source.train.url=http://127.0.0.1:9/x.zip"]
    cfg = compose_config(overrides, tmp_path / "run")
    datamodule = instantiate(cfg.data, backbone=cfg.backbone.name)
    with pytest.raises(DownloadError) as error:
        datamodule.prepare_data()
    assert "Could not download http://127.0.0.1:9/x.zip" in str(error.value)
    assert str(tmp_path / "downloads") in str(error.value)


@pytest.mark.parametrize("member", ["../escaped.txt", "/tmp/absolute-escape.txt"])
def test_a_zip_slip_archive_is_refused_and_nothing_lands_outside(http_server, tmp_path, member):
    base_url, folder = http_server
    build_zip(folder / "horse-or-human.zip", {"horses": 2, "humans": 2})
    with zipfile.ZipFile(folder / "horse-or-human.zip", "a") as archive:
        archive.writestr(member, b"written outside the data folder")
    build_zip(folder / "validation-horse-or-human.zip", {"horses": 1, "humans": 1})
    cfg = compose_config(horse_human_overrides(base_url, folder, tmp_path), tmp_path / "run")
    datamodule = instantiate(cfg.data, backbone=cfg.backbone.name)
    before = {p for p in tmp_path.parent.rglob("*escape*")}
    with pytest.raises(DataError) as error:
        datamodule.prepare_data()
    assert member in str(error.value)
    assert "horse-or-human.zip" in str(error.value)
    assert {p for p in tmp_path.parent.rglob("*escape*")} == before
    assert not (tmp_path / "cache" / "horse_human" / "train").exists()  # no half-extracted split
