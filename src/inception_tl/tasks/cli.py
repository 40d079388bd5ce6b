"""What the entry scripts share: user-fixable problems end as a message and an exit code, not a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from inception_tl.errors import ConfigError, InceptionTLError
from inception_tl.training.quiet import silence_known_noise

T = TypeVar("T")


def check_search_mode() -> None:
    """A search config without `-m` would train once, silently not searching: say what to add."""
    hydra = HydraConfig.get()
    search = hydra.runtime.choices.get("hparams_search")
    if search not in (None, "None") and hydra.mode != RunMode.MULTIRUN:
        raise ConfigError(
            f"hparams_search={search} runs a search: add -m (python train.py -m hparams_search={search})."
        )


def original_message(error: BaseException) -> str:
    """The error's own message, also when a DataLoader worker raised it.

    torch re-raises a worker's exception in the main process as the same type whose text is "Caught DataError in
    DataLoader worker process 0. Original Traceback ...": the user needs the last line of that, not the worker's
    stack.
    """
    text = str(error)
    if not text.startswith(f"Caught {type(error).__name__} ") or "\nOriginal Traceback" not in text:
        return text
    # The traceback ends "<module>.<Name>: <message>" (the message may span lines); chained errors come first.
    marker = f"{type(error).__module__}.{type(error).__qualname__}: "
    start = text.rfind(marker)
    return text[start + len(marker) :].strip() if start >= 0 else text


def run_or_exit(entry: Callable[[DictConfig], T], cfg: DictConfig) -> T:
    """`entry(cfg)`; an InceptionTLError is printed and exits 1, SIGTERM exits 143 (its checkpoint saved)."""
    silence_known_noise()
    try:
        if HydraConfig.initialized():
            check_search_mode()
        return entry(cfg)
    except InceptionTLError as error:
        print(f"\nError: {original_message(error)}", file=sys.stderr)
        # The message is all the user gets. The stack it came through holds, from a DataLoader worker's error, the
        # loader and its worker processes in a reference cycle; collected by the garbage collector, the loader's
        # queues are closed before it stops its workers, and it waits 5 s for each (where the process goes on:
        # a notebook, a test). Without the stack they stop at once.
        error.__traceback__ = None
        sys.exit(1)
    except MissingMandatoryValue as error:  # a `???` in the config that the command line did not set
        print(f"\nError: {error.full_key} is not set: add {error.full_key}=VALUE to the command.", file=sys.stderr)
        sys.exit(1)
    except SIGTERMException:
        sys.exit(143)  # the shell's code for "terminated by SIGTERM"
