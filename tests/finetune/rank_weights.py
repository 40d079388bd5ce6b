"""A callback the DDP test adds through the CLI (`+callbacks.rank_weights=...`): each rank saves its state."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback


class SaveRankWeights(Callback):
    """Writes `rank{R}-initial.pt` and, after each epoch, `rank{R}-epoch{E}.pt`: the model's state dict
    and the sample indices this rank trained on in that epoch."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def _save(self, trainer: L.Trainer, pl_module: L.LightningModule, tag: str, indices: list[int]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        state = {name: tensor.detach().clone() for name, tensor in pl_module.state_dict().items()}
        torch.save({"state": state, "indices": indices}, self.directory / f"rank{trainer.global_rank}-{tag}.pt")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer, pl_module, "initial", [])

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        indices = [index for index, _ in trainer.train_dataloader.sampler]  # this epoch's shard of the data
        self._save(trainer, pl_module, f"epoch{trainer.current_epoch}", indices)
