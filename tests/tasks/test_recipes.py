"""The write-ups' recipes (conf/experiment/): each composes with its own data, trains what its source trains,
runs on the user's own folder (data=imagefolder) and writes its outputs; the README lists every one."""

import csv
import json
import re

import pytest
import torch

from inception_tl.finetune import FinetuneConfig
from inception_tl.tasks.train import run
from tests.helpers import CONFIG_DIR, REPO, compose_config, write_image_tree

RECIPES = {
    # recipe: (backbone, dataset source, blocks trained in the first epoch besides the head, from epoch on)
    "horse_human_inception_v3": ("inception_v3", "HorseHuman", (), 2),
    "cifar10_inception_resnet_v2": ("inception_resnet_v2", "Cifar10", (), 4),
    "horse_human_inception_v4_feature_extraction": ("inception_v4", "HorseHuman", (), None),
    "horse_human_inception_v4_finetune": ("inception_v4", "HorseHuman", ("features.20", "features.21"), 0),
    "horse_human_inception_v4_hybrid": ("inception_v4", "HorseHuman", (), 5),
}


def test_every_recipe_file_is_known_and_listed_in_the_readme():
    files = sorted(path.stem for path in (CONFIG_DIR / "experiment").glob("*.yaml"))
    assert files == sorted([*RECIPES, "quickstart"])
    readme = (REPO / "README.md").read_text()
    for recipe in RECIPES:
        assert re.search(rf"^\| .*`python train.py experiment={recipe}`", readme, re.MULTILINE), recipe


@pytest.mark.parametrize("recipe", RECIPES)
def test_each_recipe_composes_with_its_own_data_and_names_real_blocks(tmp_path, recipe):
    backbone, source, _, release_epoch = RECIPES[recipe]
    cfg = compose_config([f"experiment={recipe}", f"paths.data_dir={tmp_path}"], tmp_path / "run")
    assert cfg.backbone.name == backbone
    assert cfg.data.source._target_.endswith(source)
    assert cfg.task_name == recipe
    finetune = FinetuneConfig.from_mapping(cfg.finetune)
    finetune.check_for_backbone(backbone)  # a block name the backbone does not have raises
    if release_epoch is None:
        assert finetune.strategy == "linear_probe"
    else:
        assert (finetune.strategy, finetune.warmup_epochs) == ("warmup", release_epoch)


def test_the_cifar10_recipe_has_the_write_ups_head_batch_and_rates(tmp_path):
    cfg = compose_config(["experiment=cifar10_inception_resnet_v2", f"paths.data_dir={tmp_path}"], tmp_path)
    assert dict(cfg.backbone.head) == {"kind": "mlp", "hidden": 500, "dropout": 0.3}
    assert cfg.data.batch_size == 300
    assert cfg.optim.lr * cfg.finetune.backbone_lr_scale == pytest.approx(1e-5)
    assert cfg.finetune.unfreeze_from == "repeat_2.1"  # Keras layers[633:] start in block8_2
    assert cfg.trainer.max_epochs == 8


def trainable_in_first_epoch(checkpoint: dict, released: tuple[str, ...]) -> int:
    """Parameters of the head and of the released backbone blocks (BatchNorm statistics are not parameters)."""
    prefixes = ("head.", *(f"backbone.{block}." for block in released))
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    return sum(
        tensor.numel()
        for name, tensor in checkpoint["state_dict"].items()
        if name.startswith(prefixes) and not name.endswith(buffers)
    )


@pytest.fixture(scope="module")
def user_folder(shared_tmp):
    root = shared_tmp("recipes")
    return write_image_tree(root / "mine", {"train": {"cat": 5, "dog": 5}, "test": {"cat": 2, "dog": 2}}, size=64)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES)
def test_each_recipe_trains_on_a_users_folder_and_writes_its_outputs(tmp_path, user_folder, recipe):
    _, _, released, _ = RECIPES[recipe]
    overrides = [f"experiment={recipe}", "data=imagefolder", f"data.root={user_folder}"]
    overrides += ["backbone.pretrained=false", "data.image_size=75", "data.batch_size=4", "data.num_workers=0"]
    overrides += [f"paths.data_dir={tmp_path / 'cache'}", "trainer=cpu", "trainer.max_epochs=1"]
    # The report's figures and last.ckpt are test_train_cli's.
    overrides += ["callbacks.progress_bar=null", "figures=false", "callbacks.last_checkpoint=null"]
    run_dir = tmp_path / "run"
    metrics = run(compose_config(overrides, run_dir))

    assert json.loads((run_dir / "metrics.json").read_text())["test/acc"] == metrics["test/acc"]
    assert sum(map(sum, metrics["test/confusion_matrix"])) == 4
    assert (run_dir / "report" / "predictions.csv").is_file()
    checkpoint = torch.load(run_dir / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["hyper_parameters"]["finetune"]["strategy"] in ("warmup", "linear_probe")
    with open(next(run_dir.rglob("metrics.csv"))) as handle:
        logged = [row for row in csv.DictReader(handle) if row.get("finetune/trainable_params")]
    # The first epoch trains the head and exactly the blocks the source releases at once (none, mostly).
    assert float(logged[0]["finetune/trainable_params"]) == trainable_in_first_epoch(checkpoint, released)


def test_the_quickstart_applies_to_a_users_folder(tmp_path):
    """Its data settings are data-agnostic: with data=imagefolder they configure the user's folder, and nothing of
    the shapes source leaks into the folder source (that was a TypeError from deep inside Hydra)."""
    from hydra.utils import instantiate

    root = write_image_tree(tmp_path / "mine", {"train": {"cat": 2, "dog": 2}}, size=32)
    cfg = compose_config(["experiment=quickstart", "data=imagefolder", f"data.root={root}"], tmp_path / "run")
    datamodule = instantiate(cfg.data, backbone=cfg.backbone.name)
    assert (datamodule.image_size, datamodule.batch_size, datamodule.num_workers) == (75, 64, 0)
    assert datamodule.root == root
