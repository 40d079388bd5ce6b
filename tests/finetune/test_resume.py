"""A run interrupted at any point and resumed from its checkpoint ends with the uninterrupted run's weights."""

import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from inception_tl.errors import ConfigError
from inception_tl.training.callbacks.interrupt import SaveOnInterrupt
from tests.helpers import classifier, fit, make_datamodule, write_image_tree

EPOCHS = 3
# Warm-up in epoch 0, the backbone from Mixed_6e up from epoch 1; an MLP head with dropout, so the resumed
# run must also repeat the dropout masks, and a per-step cosine schedule, so it must resume the rates too.
FINETUNE = {"strategy": "warmup", "warmup_epochs": 1, "unfreeze_from": "Mixed_6e", "backbone_lr_scale": 0.1}
HEAD = {"kind": "mlp", "hidden": 32, "dropout": 0.3}
SCHEDULER = {"name": "cosine", "lr_warmup_epochs": 1, "warmup_start_factor": 0.1, "min_lr_ratio": 0.01}


class StopAfterEpoch(Callback):
    """Stops the run after `epoch` as a crash would, once last.ckpt of that epoch is written."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            trainer.should_stop = True


class SigtermAfterBatch(Callback):
    """Flags SIGTERM after training batch `batch` of `epoch`, as Lightning's handler does on the real signal."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch):
            trainer._signal_connector.received_sigterm = True  # what its SIGTERM handler sets; raised after the batch


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = write_image_tree(tmp_path_factory.mktemp("tiny"), {"train": {"a": 8, "b": 8}})
    return make_datamodule(root, val_split=0.25)


def train(tiny_data, checkpoints, callbacks=(), ckpt_path=None, finetune=FINETUNE):
    model = classifier(finetune, head=HEAD, scheduler=SCHEDULER, lr=3e-3)
    # As conf/callbacks/default.yaml: the best epoch, and last.ckpt rewritten at every epoch end.
    best = ModelCheckpoint(dirpath=checkpoints, filename="best", monitor="val/acc", mode="max")
    last = ModelCheckpoint(dirpath=checkpoints, filename="last", monitor=None, enable_version_counter=False)
    fit(model, tiny_data, EPOCHS, [best, last, *callbacks], ckpt_path, enable_checkpointing=True)
    return model


@pytest.fixture(scope="module")
def uninterrupted(tiny_data, tmp_path_factory):
    return train(tiny_data, tmp_path_factory.mktemp("uninterrupted")).state_dict()


@pytest.mark.parametrize("stop_after", [0, 1], ids=["interrupted-in-warmup", "interrupted-after-unfreezing"])
def test_a_resumed_run_ends_with_the_uninterrupted_runs_weights(tiny_data, uninterrupted, tmp_path, stop_after):
    train(tiny_data, tmp_path, callbacks=[StopAfterEpoch(stop_after)])
    resumed = train(tiny_data, tmp_path, ckpt_path=str(tmp_path / "last.ckpt")).state_dict()
    assert resumed.keys() == uninterrupted.keys()
    for name, tensor in uninterrupted.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=0, atol=1e-6, msg=name)
    initial = classifier(FINETUNE, head=HEAD).state_dict()
    assert any(not torch.equal(tensor, initial[name]) for name, tensor in resumed.items())  # it did train


@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "worker-processes"])
def test_a_run_stopped_mid_epoch_by_sigterm_resumes_to_the_uninterrupted_runs_weights(
    tiny_data, uninterrupted, tmp_path, workers
):
    # 12 training images in batches of 4: stopped after the first of epoch 1's three batches.
    with pytest.raises(SIGTERMException):
        train(tiny_data, tmp_path, callbacks=[SaveOnInterrupt(str(tmp_path)), SigtermAfterBatch(epoch=1, batch=0)])
    saved = torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=True)
    assert (saved["epoch"], saved["global_step"]) == (1, 4)
    tiny_data.num_workers = workers  # worker processes fetch ahead: the resumed order must still be right
    try:
        resumed = train(tiny_data, tmp_path, ckpt_path=str(tmp_path / "last.ckpt")).state_dict()
    finally:
        tiny_data.num_workers = 0
    for name, tensor in uninterrupted.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=0, atol=1e-6, msg=name)


def test_resuming_with_other_finetune_settings_is_refused(tiny_data, tmp_path):
    train(tiny_data, tmp_path, callbacks=[StopAfterEpoch(0)])
    with pytest.raises(ConfigError, match="same finetune settings"):
        train(tiny_data, tmp_path, ckpt_path=str(tmp_path / "last.ckpt"), finetune={**FINETUNE, "warmup_epochs": 2})
