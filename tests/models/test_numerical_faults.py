"""A NaN loss stops training with a diagnosis, and the last checkpoint on disk is intact and finite."""

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from inception_tl.errors import TrainingError
from tests.helpers import classifier, fit, make_datamodule, write_image_tree


def test_a_nan_loss_stops_the_run_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    root = write_image_tree(tmp_path / "images", {"train": {"a": 8, "b": 8}})
    datamodule = make_datamodule(root, val_split=0.25)
    model = classifier({"strategy": "full"})
    original_loss = model._loss

    def loss(logits, labels):
        value = original_loss(logits, labels)
        if model.current_epoch == 1 and model.trainer.fit_loop.epoch_loop.batch_idx == 1:
            return value * float("nan")
        return value

    model._loss = loss
    checkpoints = tmp_path / "checkpoints"
    with pytest.raises(TrainingError) as error:
        fit(model, datamodule, 3, [ModelCheckpoint(dirpath=checkpoints, save_last=True)], enable_checkpointing=True)
    message = str(error.value)
    assert "loss is nan at epoch 1, batch 1 (optimizer step 4)" in message
    assert "optim.lr" in message
    assert "precision" in message
    last = torch.load(checkpoints / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["epoch"] == 0
    assert all(torch.isfinite(tensor).all() for tensor in last["state_dict"].values() if tensor.is_floating_point())
    assert all(torch.isfinite(p).all() for p in model.parameters())  # no step was taken with the NaN


def test_without_a_fused_optimizer_the_loss_is_checked_before_every_update(tmp_path):
    """An optimizer that cannot skip an update on the device (here AdamW's foreach kernels) is guarded by a check
    at every step instead: the run stops at the faulty batch itself, before its update."""
    from inception_tl.training.finite_loss import skips_on_device

    root = write_image_tree(tmp_path / "images", {"train": {"a": 8, "b": 8}})
    model = classifier({"strategy": "full"})
    model.hparams.optimizer = {**model.hparams.optimizer, "foreach": True}
    original_loss, stepped = model._loss, []

    def loss(logits, labels):
        value = original_loss(logits, labels)
        return value * float("nan") if model.global_step == 4 else value

    model._loss = loss
    model.on_train_batch_end = lambda *args: stepped.append(model.global_step)  # no interval check: the gate's
    with pytest.raises(TrainingError, match=r"loss is nan at epoch 1, batch 1 \(optimizer step 4\)"):
        fit(model, make_datamodule(root, val_split=0.25), 3)
    assert not skips_on_device(model.trainer.optimizers[0])
    assert stepped == [1, 2, 3, 4]  # the faulty fifth batch never finished
    assert all(torch.isfinite(p).all() for p in model.parameters())
