"""Per-epoch loss, accuracy and fine-tuning phase, for the training-curves figure.

Kept in the checkpoint (callback state), so the curves of a resumed run start at epoch 0, and read
from `trainer.callback_metrics`, so they do not depend on which logger is active.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

# History key -> the name the LightningModule logs it under (epoch aggregates).
LOGGED = {"train/loss": "train/loss_epoch", "train/acc": "train/acc", "val/loss": "val/loss", "val/acc": "val/acc"}


class EpochHistory(Callback):
    """Rows of {epoch, train/loss, train/acc, val/loss, val/acc, phase}, one per finished training epoch."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch
        metrics = trainer.callback_metrics
        row: dict[str, Any] = {"epoch": epoch}
        row.update({name: float(metrics[key]) for name, key in LOGGED.items() if key in metrics})
        schedule = getattr(pl_module, "freeze_schedule", None)
        row["phase"] = schedule.phase(epoch) if schedule is not None else None
        self.rows = [*(old for old in self.rows if old["epoch"] < epoch), row]

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict.get("rows", []))
