"""Where the package prints: one console on standard output for what a run says and its tables, and one on standard
error for predict.py's per-file lines. Soft wrap keeps a long path on one line, so grep and copy-paste find it;
off a terminal the width is 200 columns, wide enough for a search's trial table in a log."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

from rich.console import Console

console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, soft_wrap=True)


@contextlib.contextmanager
def loggers_at(level: int, *names: str) -> Iterator[None]:
    """The named loggers at `level` for the block (a library's progress lines, which Hydra's logging would print),
    restored after it."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, previous in zip(loggers, levels, strict=True):
            logger.setLevel(previous)
