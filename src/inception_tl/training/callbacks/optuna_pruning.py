"""Report each epoch's validation metric to the Optuna trial, and stop the run when its pruner says so.

Written here rather than taken from optuna-integration's `PyTorchLightningPruningCallback`: that one
raises `TrialPruned` inside the fit loop on one process (under DDP it leaves the other ranks waiting, or
needs a separate check after fit), and would add a package for a dozen lines. This one decides on
rank zero, broadcasts the decision so every rank stops after the same epoch, lets Lightning finish the
epoch cleanly, and `train.run` raises `TrialPruned` after fit, before evaluating.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
import optuna
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer.states import TrainerFn

from inception_tl.errors import ConfigError


class OptunaPruning(Callback):
    """Links a training run to its trial (`+search.*`, set by the search for each of its jobs)."""

    def __init__(self, storage: str, study_name: str, trial_id: int, monitor: str, pruner: Mapping[str, Any]) -> None:
        self.storage, self.study_name, self.trial_id = storage, study_name, trial_id
        self.monitor = monitor
        self.pruner = dict(pruner)
        self.pruned_at: int | None = None  # the epoch after which the trial was pruned
        self._trial: optuna.trial.Trial | None = None

    def trial(self) -> optuna.trial.Trial:
        """The running trial, from the study's storage (the search asked for it in its own process)."""
        if self._trial is None:
            study = optuna.load_study(study_name=self.study_name, storage=self.storage, pruner=instantiate(self.pruner))
            self._trial = optuna.trial.Trial(study, self.trial_id)
        return self._trial

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        prune = False
        if trainer.is_global_zero:
            value = trainer.callback_metrics.get(self.monitor)
            if value is None:
                logged = sorted(trainer.callback_metrics)
                raise ConfigError(f"optimized_metric={self.monitor!r} is not a logged metric; choose one of {logged}.")
            trial = self.trial()
            epochs_done = trainer.current_epoch + 1  # the resource Hyperband allots: epochs trained
            trial.report(float(value), step=epochs_done)
            # After the last epoch the trial is complete: its value counts, stopping would save nothing.
            last_epoch = trainer.max_epochs is not None and 0 < trainer.max_epochs <= epochs_done
            prune = not last_epoch and trial.should_prune()
        if trainer.strategy.broadcast(prune, src=0):
            self.pruned_at = trainer.current_epoch
            trainer.should_stop = True

    def raise_if_pruned(self) -> None:
        if self.pruned_at is not None:
            raise optuna.TrialPruned(f"Pruned after epoch {self.pruned_at} by the search's pruner.")
