"""What the entry scripts share: user-fixable problems end as a message and an exit code, not a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig

from inception_tl.errors import InceptionTLError

T = TypeVar("T")


def run_or_exit(entry: Callable[[DictConfig], T], cfg: DictConfig) -> T:
    """`entry(cfg)`; an InceptionTLError is printed and exits 1, SIGTERM exits 143 (its checkpoint saved)."""
    try:
        return entry(cfg)
    except InceptionTLError as error:
        print(f"\nError: {error}", file=sys.stderr)
        sys.exit(1)
    except SIGTERMException:
        sys.exit(143)  # the shell's code for "terminated by SIGTERM"
