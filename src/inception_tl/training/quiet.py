"""The console says what matters: messages of Lightning and torch that are known to be harmless here, or said
better by the run's own summary, are silenced at their source, each for the reason written beside it."""

from __future__ import annotations

import logging
import sys
import warnings

# Lightning's rank-zero INFO lines that the run's summary replaces or that are not about the run.
DROPPED_INFO = (
    "💡 Tip:",  # advertisements for Lightning's cloud services (litlogger, litmodels)
    "GPU available:",  # the run's summary names the device and precision
    "TPU available:",
    "HPU available:",
    "LOCAL_RANK:",  # CUDA_VISIBLE_DEVICES per process, also in the summary's device line
    "Loading `train_dataloader` to estimate number of stepping batches.",  # the scheduler asks; nothing to act on
)

# Warnings that say nothing the user can or should act on.
HARMLESS_WARNINGS = (
    # Frozen BatchNorm layers are in eval mode on purpose (training/callbacks/freeze_schedule.py).
    r"Found \d+ module\(s\) in eval mode at the start of training",
    # ImageDataModule.state_dict records the position in the epoch; Lightning only looks at the DataLoader.
    r"You're resuming from a checkpoint that ended before the epoch ended",
    # A small dataset has fewer batches than the logging interval: the loss is still logged at each epoch's end.
    r"The number of training batches \(\d+\) is smaller than the logging interval",
    # Lightning 2.6's own use of a torch.utils._pytree API that torch 2.14 deprecates: not ours to change.
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    # The loaders are ours: threads for cached images, processes as configured (data.num_workers).
    r"The '\w+_dataloader' does not have many workers",
    # data=stream's length is exact: each worker reads its own batches (data/stream/plan.py), none twice.
    r"Your `IterableDataset` has `__len__` defined",
)


class DropLines(logging.Filter):
    """Drops log records whose message starts with one of `prefixes`."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(self.prefixes)


class StderrHandler(logging.StreamHandler):
    """A StreamHandler writing to whatever `sys.stderr` is when a line is printed (a redirected stream included),
    not to the one there was when the handler was made."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def plain_lightning_lines() -> None:
    """Lightning's own lines (the freeze schedule's "Epoch N: ...") once each, as the message alone.

    Imported before Hydra configures logging, Lightning gives its loggers a handler of their own and stops them
    from propagating; imported after (the entry scripts import it in `main`, so that `--help` needs no torch), they
    would print every line twice: through the `lightning` package's handler and through Hydra's root format.
    """
    for name in ("lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        if not any(isinstance(handler, StderrHandler) for handler in logger.handlers):
            logger.handlers = [StderrHandler()]
        logger.propagate = False


def silence_known_noise() -> None:
    """Install the filters above (safe to call again: each is added once), and Lightning's lines plain."""
    plain_lightning_lines()
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, DropLines) for existing in logger.filters):
            logger.addFilter(DropLines(DROPPED_INFO))
    for message in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
