"""best.ckpt as evaluation reads it, from its first write: the weights and hyperparameters, no resume state.

Each improving epoch rewrites best.ckpt. Lightning's ModelCheckpoint writes the whole resume state there (the
optimizer's moments, EMA's copy of the trained weights, the loops), about three times the weights alone
(the quickstart's Inception-v3: 262 MB instead of 88 MB), which last.ckpt already holds for resuming.
Its `save_weights_only=True` would drop them but also skips the callbacks' `on_save_checkpoint`, where EMA
swaps its average into `state_dict` (the weights that won the validation), so that option would save the
wrong weights under EMA. Here the checkpoint is assembled as usual and only its evaluation keys are written.
"""

from __future__ import annotations

from typing import Any
from weakref import proxy

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

from inception_tl.training.checkpoints import EVALUATION_KEYS


class EvaluationCheckpoint(ModelCheckpoint):
    """A ModelCheckpoint whose files hold `EVALUATION_KEYS` only (state_dict, hyperparameters, epoch, step).

    Example::

        trainer = L.Trainer(callbacks=[EvaluationCheckpoint(dirpath="checkpoints", filename="best",
                                                            monitor="val/acc", mode="max")])
    """

    _saving_last = False

    def _save_last_checkpoint(self, trainer: L.Trainer, monitor_candidates: dict[str, Any]) -> None:
        """`save_last=true`'s last.ckpt is for resuming: it keeps everything. (`save_last=link` links to the best
        file, which holds no resume state: the default config's own last.ckpt callback is the one to resume from.)"""
        self._saving_last = True
        try:
            super()._save_last_checkpoint(trainer, monitor_candidates)
        finally:
            self._saving_last = False

    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        if self._saving_last:
            super()._save_checkpoint(trainer, filepath)
            return
        # Trainer.save_checkpoint with a filter between assembling and writing (the same three steps).
        checkpoint = trainer._checkpoint_connector.dump_checkpoint(weights_only=False)
        evaluation = {key: checkpoint[key] for key in EVALUATION_KEYS if key in checkpoint}
        trainer.strategy.save_checkpoint(evaluation, filepath)
        trainer.strategy.barrier("EvaluationCheckpoint.save_checkpoint")
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))
