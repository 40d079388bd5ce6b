"""Hydra's `instantiate`, letting this project's own errors through as they are.

Hydra wraps whatever a `_target_` raises in an `InstantiationException` whose text repeats the
exception's repr and the config key; for an `InceptionTLError` (a message written for the user, such as
`data.batch_size=1 is too small ...`) that only buries the message, so it is re-raised unwrapped.
"""

from __future__ import annotations

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import OmegaConf

from inception_tl.errors import InceptionTLError


def instantiate(config: Any, **kwargs: Any) -> Any:
    try:
        return hydra_instantiate(config, **kwargs)
    except InstantiationException as error:
        if isinstance(error.__cause__, InceptionTLError):
            raise error.__cause__ from None
        raise


def config_values(node: Any) -> Any:
    """A config node as plain containers (what checkpoints store: choices as their names), None as None."""
    return OmegaConf.to_container(node, resolve=True, enum_to_str=True) if node is not None else None
