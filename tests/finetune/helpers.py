"""A classifier, a Trainer and weight snapshots for the freeze-schedule tests (CPU, 75 px, no weights)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from inception_tl.models import ImageClassifier
from inception_tl.training.callbacks import FreezeScheduleCallback
from inception_tl.training.callbacks.step_seed import StepSeed


def classifier(
    finetune: Mapping[str, Any] | None,
    backbone: str = "inception_v3",
    head: Mapping[str, Any] | None = None,
    scheduler: Mapping[str, Any] | None = None,
    lr: float = 1e-2,
) -> ImageClassifier:
    torch.manual_seed(0)
    return ImageClassifier(
        backbone={"name": backbone, "pretrained": False, "head": dict(head or {"kind": "linear"})},
        class_names=["a", "b"],
        preprocessing={},
        optimizer={"opt": "adamw", "lr": lr, "weight_decay": 0.01},
        scheduler=scheduler,
        finetune=finetune,
    )


def fit(
    model: ImageClassifier,
    datamodule: L.LightningDataModule,
    epochs: int,
    callbacks: Sequence[Callback] = (),
    ckpt_path: str | None = None,
    schedule_callback: bool = True,
    **trainer_options: Any,
) -> L.Trainer:
    """Fit as train.py does (freeze-schedule and step-seed callbacks), quietly, on the CPU."""
    own = [FreezeScheduleCallback()] if schedule_callback else []
    options = {"logger": False, "enable_checkpointing": False, **trainer_options}
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=epochs,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[*own, StepSeed(0), *callbacks],
        **options,
    )
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    return trainer


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer (BatchNorm running statistics included), copied."""
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


def changed(before: Mapping[str, torch.Tensor], after: Mapping[str, torch.Tensor]) -> set[str]:
    return {name for name, tensor in before.items() if not torch.equal(tensor, after[name])}


class EpochSnapshots(Callback):
    """The backbone's state at the end of every training epoch, and the frozen-stage count during it."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []
        self.frozen: list[int] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: ImageClassifier) -> None:
        self.states.append(snapshot(pl_module.backbone))
        self.frozen.append(pl_module.frozen_stages)
