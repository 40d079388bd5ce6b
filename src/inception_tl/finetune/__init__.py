"""Fine-tuning: backbone stages in forward order, the freeze schedule and its learning rates (the callback
that applies it is `training.callbacks.FreezeScheduleCallback`)."""

from inception_tl.finetune.config import FinetuneConfig

__all__ = ["FinetuneConfig"]
