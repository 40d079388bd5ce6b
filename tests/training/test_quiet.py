"""The console says what matters: Lightning's own lines print once, as the message alone, whether Lightning was
imported before Hydra configured logging or after (the entry scripts import it late, for a fast `--help`); its
advertisements and device lines do not print."""

import logging
import sys

import pytest
from lightning.pytorch.utilities import rank_zero_info

from inception_tl.training.quiet import DropLines, silence_known_noise


@pytest.fixture
def lightning_imported_after_hydra(capsys):
    """Logging as it stands when Lightning is imported after Hydra gave the root logger its handler (the handlers
    writing to capsys's streams)."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    saved = [(logger.handlers[:], logger.propagate) for logger in loggers]
    saved_filters = rank_zero.filters[:]
    root = logging.getLogger()
    hydra_handler = logging.StreamHandler(sys.stdout)
    hydra_handler.setFormatter(logging.Formatter("[%(name)s][%(levelname)s] - %(message)s"))
    root.addHandler(hydra_handler)
    for logger in loggers:
        logger.handlers, logger.propagate = [], True
    package_handlers = logging.getLogger("lightning").handlers  # "INFO: message", to stderr
    streams = [handler.stream for handler in package_handlers]
    for handler in package_handlers:
        handler.stream = sys.stderr
    rank_zero.filters = [f for f in rank_zero.filters if not isinstance(f, DropLines)]
    yield
    root.removeHandler(hydra_handler)
    for handler, stream in zip(package_handlers, streams, strict=True):
        handler.stream = stream
    for logger, (handlers, propagate) in zip(loggers, saved, strict=True):
        logger.handlers, logger.propagate = handlers, propagate
    rank_zero.filters = saved_filters


def test_lightning_lines_print_once_and_its_tips_not_at_all(lightning_imported_after_hydra, capsys):
    silence_known_noise()
    rank_zero_info("Epoch 0: the whole network trains (12 trainable parameters).")
    rank_zero_info("💡 Tip: For seamless cloud logging and experiment tracking, try installing [litlogger]...")
    rank_zero_info("GPU available: False, used: False")
    captured = capsys.readouterr()
    printed = (captured.out + captured.err).splitlines()
    assert printed == ["Epoch 0: the whole network trains (12 trainable parameters)."]
