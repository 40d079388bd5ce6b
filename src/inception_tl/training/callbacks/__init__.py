"""Every Lightning callback of the project, in one place (the config's `callbacks` group names them here)."""

from inception_tl.training.callbacks.best_checkpoint import EvaluationCheckpoint
from inception_tl.training.callbacks.compile_time import CompileTimeReport
from inception_tl.training.callbacks.ema import EMAWeights
from inception_tl.training.callbacks.feature_cache import FeatureCache
from inception_tl.training.callbacks.freeze_schedule import FreezeScheduleCallback
from inception_tl.training.callbacks.history import EpochHistory
from inception_tl.training.callbacks.interrupt import SaveOnInterrupt
from inception_tl.training.callbacks.predictions import PredictionCollector
from inception_tl.training.callbacks.progress_bar import IntervalProgressBar
from inception_tl.training.callbacks.step_seed import StepSeed
from inception_tl.training.callbacks.steps_bar import StepsBar

__all__ = [
    "CompileTimeReport",
    "EMAWeights",
    "EpochHistory",
    "EvaluationCheckpoint",
    "FeatureCache",
    "FreezeScheduleCallback",
    "IntervalProgressBar",
    "PredictionCollector",
    "SaveOnInterrupt",
    "StepSeed",
    "StepsBar",
]
