"""The Optuna study of a search: kept in a SQLite file in the sweep folder, resumed when run again, and
summarised as a trial table and a ready-to-run command for the best trial."""

from __future__ import annotations

import csv
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from omegaconf import OmegaConf
from optuna.trial import FrozenTrial, TrialState
from rich.table import Table

from inception_tl.console import console
from inception_tl.errors import ConfigError
from inception_tl.search.space import SearchSpace, override_value

# The trial table is wide: give it room in logs too (rich assumes 80 columns when not in a terminal).
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# Command-line overrides that select the search itself: left out of the best trial's command.
SEARCH_ONLY = ("hparams_search", "hydra/sweeper")


def open_study(
    storage: str,
    study_name: str,
    direction: str,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
    space: SearchSpace,
) -> optuna.Study:
    """Create the study, or load it to resume: trials left running by an interrupted search are marked
    failed and queued to run again with the same parameters.

    A study is resumed only with the same fixed overrides and the same space: trials of another setup
    would rank against each other meaninglessly.
    """
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction=direction,
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    setup = {"fixed": list(space.fixed.values()), "space": sorted(space.distributions)}
    recorded = study.user_attrs.get("setup")
    if recorded is None:
        study.set_user_attr("setup", setup)
    elif recorded != setup:
        raise ConfigError(
            f"The study in {storage} was run with {recorded}, this command asks for {setup}. Resume it with the "
            "same overrides, or start another search in its own folder: hydra.sweep.dir=outputs/search/NEW."
        )
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"rerun_of": trial.number})
        console.print(f"Trial {trial.number} was interrupted: it runs again with the same parameters.")
    return study


def finished_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def best_command(study: optuna.Study, space: SearchSpace, script: str = "train.py") -> tuple[list[str], str]:
    """The best trial's overrides (fixed ones without the search selection, then its parameters) and the
    command that trains with them."""
    fixed = [line for key, line in space.fixed.items() if key.lstrip("+~") not in SEARCH_ONLY]
    sampled = [f"{key}={override_value(value)}" for key, value in study.best_trial.params.items()]
    overrides = [*fixed, *sampled]
    return overrides, shlex.join(["python", script, *overrides])


def trial_rows(trials: Sequence[FrozenTrial], names: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for trial in trials:
        seconds = trial.duration.total_seconds() if trial.duration is not None else None
        row = {
            "trial": trial.number,
            "state": trial.state.name,
            "value": trial.value,
            "epochs": len(trial.intermediate_values),
            "seconds": round(seconds, 1) if seconds is not None else None,
        }
        row.update({name: trial.params.get(name) for name in names})
        rows.append(row)
    return rows


def write_results(study: optuna.Study, space: SearchSpace, folder: Path, metric: str) -> Path | None:
    """trials.csv (every trial), the table on the console, and best.yaml with the best trial's command
    (None when no trial has completed)."""
    names = list(space.distributions)
    rows = trial_rows(study.get_trials(deepcopy=False), names)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "trials.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["trial", "state", "value", "epochs", "seconds", *names])
        writer.writeheader()
        writer.writerows(rows)

    table = Table(title=f"Trials ({metric}, {study.direction.name.lower()})")
    for column in rows[0] if rows else []:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            *(
                "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
                for value in row.values()
            )
        )
    console.print(table)

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        console.print("No trial completed: there is no best one yet.")
        return None
    overrides, command = best_command(study, space)
    best = study.best_trial
    summary = {"metric": metric, "value": best.value, "trial": best.number, "overrides": overrides, "command": command}
    path = folder / "best.yaml"
    OmegaConf.save(OmegaConf.create(summary), path)
    console.print(f"Best trial: {best.number}, {metric} = {best.value:.4f}. Train with it:\n  {command}")
    console.print(f"Trial table: {folder / 'trials.csv'}; best overrides: {path}")
    return path
