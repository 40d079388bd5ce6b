"""A run interrupted at any point and resumed from its checkpoint ends with the uninterrupted run's weights, with
every lever for small datasets on: EMA weights, Mixup/CutMix, colour, policy and erasing, class weights; for
Inception-v3 on class folders, and for a ResNet-50 on multi-label data from a CSV."""

import shutil
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from inception_tl.data.options import WorkerMode
from inception_tl.data.sources import ShapeTags
from inception_tl.errors import ConfigError
from inception_tl.models import ImageClassifier
from inception_tl.training.callbacks import EMAWeights
from inception_tl.training.callbacks.interrupt import SaveOnInterrupt
from tests.helpers import LEVER_AUGMENT, LEVER_MIXUP, classifier, fit, make_datamodule, write_image_tree

# The resumed runs have no checkpoint callbacks (see train()); Lightning warns that it cannot restore theirs.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`, callbacks used to create"),
    pytest.mark.slow,
]

EPOCHS = 3
# Warm-up in epoch 0, the backbone from Mixed_6e up from epoch 1; an MLP head with dropout, so the resumed
# run must also repeat the dropout masks, and a per-step cosine schedule, so it must resume the rates too.
FINETUNE = {"strategy": "warmup", "warmup_epochs": 1, "unfreeze_from": "Mixed_6e", "backbone_lr_scale": 0.1}
HEAD = {"kind": "mlp", "hidden": 32, "dropout": 0.3}
SCHEDULER = {"name": "cosine", "lr_warmup_epochs": 1, "warmup_start_factor": 0.1, "min_lr_ratio": 0.01}


class KeepEachEpochsLastCheckpoint(Callback):
    """Copies last.ckpt to epoch{N}.ckpt when epoch N+1 starts: the file a run stopped after epoch N leaves
    (Lightning runs the checkpoint callbacks after all others, so at epoch N's own end it is not written yet)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch > 0:
            shutil.copy(self.directory / "last.ckpt", self.directory / f"epoch{trainer.current_epoch - 1}.ckpt")


class SigtermAfterBatch(Callback):
    """Flags SIGTERM after training batch `batch` of `epoch`, as Lightning's handler does on the real signal."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch):
            trainer._signal_connector.received_sigterm = True  # what its SIGTERM handler sets; raised after the batch


@pytest.fixture(scope="module")
def tiny_data(shared_tmp):
    root = write_image_tree(shared_tmp("tiny"), {"train": {"a": 8, "b": 8}})
    return make_datamodule(root, val_split=0.25, augment=LEVER_AUGMENT)


def inception(tiny_data, finetune):
    return classifier(finetune, head=HEAD, scheduler=SCHEDULER, lr=3e-3, mixup=LEVER_MIXUP, class_weights=[1.0, 1.5])


def train(tiny_data, checkpoints: Path | None, callbacks=(), ckpt_path=None, finetune=FINETUNE, build=inception):
    """`checkpoints`: where the run writes best.ckpt and last.ckpt as conf/callbacks/default.yaml has it (the
    best epoch, and last.ckpt rewritten at every epoch end); None for a resumed run, whose final weights are
    all that is compared (its checkpoints would cost a second each). `build(data, finetune)`: the model."""
    model = build(tiny_data, finetune)
    saving = []
    if checkpoints is not None:
        saving.append(ModelCheckpoint(dirpath=checkpoints, filename="best", monitor="val/acc", mode="max"))
        saving.append(ModelCheckpoint(dirpath=checkpoints, filename="last", enable_version_counter=False))
    averaging = EMAWeights(decay=0.9)
    fit(model, tiny_data, EPOCHS, [*saving, averaging, *callbacks], ckpt_path, enable_checkpointing=bool(saving))
    return model


@pytest.fixture(scope="module")
def uninterrupted(tiny_data, shared_tmp):
    """The final weights of the whole run, and the checkpoints it left after each epoch."""
    checkpoints = shared_tmp("uninterrupted")
    state = train(tiny_data, checkpoints, callbacks=[KeepEachEpochsLastCheckpoint(checkpoints)]).state_dict()
    return state, checkpoints


class CountSteps(Callback):
    def __init__(self) -> None:
        self.steps = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps += 1


def resume(tiny_data, checkpoint: Path, run_dir: Path, finetune=FINETUNE, build=inception) -> tuple[dict, int]:
    """A new run in its own folder, as `ckpt_path=last` starts one, from a copy of `checkpoint`: its final
    weights and how many steps it trained (a run that ignored the checkpoint would train all 9 and, seeded
    alike, end with the same weights)."""
    shutil.copy(checkpoint, run_dir / "resume-from.ckpt")
    counter = CountSteps()
    resumed = str(run_dir / "resume-from.ckpt")
    model = train(tiny_data, None, callbacks=[counter], ckpt_path=resumed, finetune=finetune, build=build)
    return model.state_dict(), counter.steps


@pytest.mark.parametrize("stopped_after", [0, 1], ids=["interrupted-in-warmup", "interrupted-after-unfreezing"])
def test_a_resumed_run_ends_with_the_uninterrupted_runs_weights(tiny_data, uninterrupted, tmp_path, stopped_after):
    final, checkpoints = uninterrupted
    resumed, steps = resume(tiny_data, checkpoints / f"epoch{stopped_after}.ckpt", tmp_path)
    assert steps == 3 * (EPOCHS - 1 - stopped_after)  # 12 training images in batches of 4: 3 steps an epoch
    assert resumed.keys() == final.keys()
    for name, tensor in final.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=0, atol=1e-6, msg=name)
    initial = classifier(FINETUNE, head=HEAD).state_dict()
    assert any(not torch.equal(tensor, initial[name]) for name, tensor in resumed.items())  # it did train


@pytest.fixture(scope="module")
def stopped_by_sigterm(tiny_data, shared_tmp):
    """The run stopped by SIGTERM after the first of epoch 1's three batches (12 images in batches of 4)."""
    checkpoints = shared_tmp("sigterm")
    stop = [SaveOnInterrupt(str(checkpoints)), SigtermAfterBatch(epoch=1, batch=0)]
    with pytest.raises(SIGTERMException):
        train(tiny_data, checkpoints, callbacks=stop)
    return checkpoints / "last.ckpt"


@pytest.mark.parametrize(
    ("workers", "mode"),
    [(0, WorkerMode.auto), (2, WorkerMode.threads), (2, WorkerMode.processes)],
    ids=["in-process", "worker-threads", "worker-processes"],
)
def test_a_run_stopped_mid_epoch_by_sigterm_resumes_to_the_uninterrupted_runs_weights(
    tiny_data, uninterrupted, stopped_by_sigterm, tmp_path, workers, mode
):
    saved = torch.load(stopped_by_sigterm, map_location="cpu", weights_only=True)
    assert (saved["epoch"], saved["global_step"]) == (1, 4)
    # Workers fetch ahead (threads and processes alike): the resumed order must still be right.
    tiny_data.num_workers, tiny_data.worker_mode = workers, mode
    try:
        resumed, steps = resume(tiny_data, stopped_by_sigterm, tmp_path)
    finally:
        tiny_data.num_workers, tiny_data.worker_mode = 0, WorkerMode.auto
    assert steps == 3 * EPOCHS - 4
    for name, tensor in uninterrupted[0].items():
        torch.testing.assert_close(resumed[name], tensor, rtol=0, atol=1e-6, msg=name)


def test_resuming_with_other_finetune_settings_is_refused(tiny_data, uninterrupted, tmp_path):
    shutil.copy(uninterrupted[1] / "epoch0.ckpt", tmp_path / "last.ckpt")
    with pytest.raises(ConfigError, match="same finetune settings"):
        train(tiny_data, None, ckpt_path=str(tmp_path / "last.ckpt"), finetune={**FINETUNE, "warmup_epochs": 2})


# A ResNet-50 with one block per stage, warm-up then layer4 released, on 1 to 3 of 4 shapes per image.
TAGS_FINETUNE = {"strategy": "warmup", "warmup_epochs": 1, "unfreeze_from": "layer4", "backbone_lr_scale": 0.1}


def resnet_on_tags(data, finetune):
    torch.manual_seed(0)
    return ImageClassifier(
        backbone={"name": "resnet50", "pretrained": False, "model_kwargs": {"layers": [1, 1, 1, 1]}, "head": HEAD},
        class_names=data.class_names,
        preprocessing=data.preprocessing,
        optimizer={"opt": "adamw", "lr": 3e-3, "weight_decay": 0.01},
        scheduler=SCHEDULER,
        finetune=finetune,
        mixup=LEVER_MIXUP,
        class_weights=[1.0, 1.5, 2.0, 0.5],  # each label's pos_weight
        multi_label=True,
    )


@pytest.fixture(scope="module")
def tags_data(shared_tmp):
    root = shared_tmp("tags") / "shape_tags"
    source = ShapeTags(train_images=16, test_images=0, image_size=64, seed=0, fixed_quarters=False, colour_coded=False)
    source.prepare(root)
    options = {"csv": str(root / "labels.csv"), "multi_label": True, "backbone": "resnet50", "image_size": 64}
    return make_datamodule(root, val_split=0.25, augment=LEVER_AUGMENT, **options)


def test_a_multi_label_resnet_stopped_mid_epoch_resumes_to_the_uninterrupted_runs_weights(tags_data, tmp_path):
    options = {"finetune": TAGS_FINETUNE, "build": resnet_on_tags}
    assert tags_data.setup_data().counts["train"] != {name: 12 for name in tags_data.class_names}  # not all-on
    whole = train(tags_data, tmp_path / "whole", **options).state_dict()
    stop = [SaveOnInterrupt(str(tmp_path / "stopped")), SigtermAfterBatch(epoch=1, batch=1)]
    with pytest.raises(SIGTERMException):
        train(tags_data, tmp_path / "stopped", callbacks=stop, **options)
    (tmp_path / "resumed").mkdir()
    resumed, steps = resume(tags_data, tmp_path / "stopped" / "last.ckpt", tmp_path / "resumed", **options)
    assert steps == 3 * EPOCHS - 5  # 12 training images in batches of 4; stopped after 5 steps
    for name, tensor in whole.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=0, atol=1e-6, msg=name)
    initial = resnet_on_tags(tags_data, TAGS_FINETUNE).state_dict()
    assert any(not torch.equal(whole[name], initial[name]) for name in whole if name.startswith("backbone.layer4"))
