"""Fine-tuning: backbone stages in forward order, the freeze schedule, the callback that applies it, and the
feature cache that makes a frozen backbone's epochs cheap."""

from inception_tl.finetune.callback import FreezeScheduleCallback
from inception_tl.finetune.config import FinetuneConfig
from inception_tl.finetune.feature_cache import FeatureCache

__all__ = ["FeatureCache", "FinetuneConfig", "FreezeScheduleCallback"]
