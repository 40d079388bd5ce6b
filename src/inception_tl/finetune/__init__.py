"""Fine-tuning: backbone stages in forward order, the freeze schedule, and the callback that applies it."""

from inception_tl.finetune.callback import FreezeScheduleCallback
from inception_tl.finetune.config import FinetuneConfig

__all__ = ["FinetuneConfig", "FreezeScheduleCallback"]
