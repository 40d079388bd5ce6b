"""The search space, written in Hydra's sweep syntax, as Optuna distributions and back to overrides.

    optim.lr: tag(log, interval(1e-5, 1e-2))     -> FloatDistribution(1e-5, 1e-2, log=True)
    finetune.warmup_epochs: range(0, 4)          -> IntDistribution(0, 3)   (Hydra's range excludes the stop)
    backbone.head.hidden: choice(128, 256, 512)  -> CategoricalDistribution
    backbone.head.kind: mlp                      -> fixed: given to every trial as it is

The same grammar as the sweep values on Hydra's command line (and as hydra-optuna-sweeper's `params`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from inception_tl.errors import ConfigError


@dataclass(frozen=True)
class SearchSpace:
    """What each trial samples, and the overrides every trial gets unchanged (in the order given)."""

    distributions: dict[str, BaseDistribution]
    fixed: dict[str, str]


def distribution(override: Override) -> BaseDistribution:
    """The Optuna distribution of one sweep override (choice, range or interval, optionally tagged log)."""
    sweep = override.value()
    log = "log" in getattr(sweep, "tags", set())
    if isinstance(sweep, ChoiceSweep):
        return CategoricalDistribution(list(sweep.list))
    if isinstance(sweep, RangeSweep):
        start, stop, step = sweep.start, sweep.stop, sweep.step
        if all(isinstance(value, int) for value in (start, stop, step)):
            return IntDistribution(start, stop - step, step=step, log=log)
        return FloatDistribution(start, stop - step, step=step, log=log)
    if isinstance(sweep, IntervalSweep):
        if isinstance(sweep.start, int) and isinstance(sweep.end, int):
            return IntDistribution(sweep.start, sweep.end, log=log)
        return FloatDistribution(float(sweep.start), float(sweep.end), log=log)
    raise ConfigError(
        f"hydra.sweeper.params: {override.input_line!r} is not a choice(...), range(...) or interval(...) sweep."
    )


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys for nested entries: `hydra.sweeper.params.optim.lr=...` on the command line nests."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def parse_space(params: Mapping[str, Any], arguments: list[str]) -> SearchSpace:
    """`params` from the search config, then the command line's overrides (which win, key by key).

    A command-line sweep (`optim.lr=interval(1e-4,1e-3)`) joins the searched parameters; a plain
    override (`data=shapes`) is fixed for every trial.
    """
    parser = OverridesParser.create()
    lines = [f"{key}={value}" for key, value in flatten(params).items()] + list(arguments)
    distributions: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    for override in parser.parse_overrides(lines):
        key = override.get_key_element()
        distributions.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            distributions[key] = distribution(override)
        else:
            fixed[key] = override.input_line
    if not distributions:
        raise ConfigError("Nothing to search: hydra.sweeper.params has no choice(...), range(...) or interval(...).")
    return SearchSpace(distributions, fixed)


def override_value(value: Any) -> str:
    """A sampled value as Hydra override syntax (null for None, quoted where the grammar needs it)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return text if text.replace("_", "").replace(".", "").replace("-", "").isalnum() else f"'{text}'"


def trial_overrides(space: SearchSpace, params: Mapping[str, Any]) -> list[str]:
    """The fixed overrides followed by one `key=value` per sampled parameter."""
    return [*space.fixed.values(), *(f"{key}={override_value(value)}" for key, value in params.items())]
