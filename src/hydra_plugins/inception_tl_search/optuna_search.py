"""`hydra/sweeper=optuna_search`: Optuna's ask-and-tell driven by Hydra's multirun and launchers.

Why not hydra-optuna-sweeper: its newest release (1.3.0) still requires optuna < 3; pip then installs
Optuna 2.10.1, whose SQLite storage fails under SQLAlchemy 2 (an AssertionError in its schema check),
so a search cannot be kept on disk or resumed; and it has no pruner support. This sweeper asks Optuna
for a trial, launches the training job through whichever Hydra launcher is configured (in-process, or
submitit on SLURM), and tells Optuna the job's return value (`optimized_metric`), or that the job's
pruning callback stopped it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


class OptunaSearch(Sweeper):
    def __init__(
        self,
        direction: str,
        n_trials: int,
        n_jobs: int,
        storage: str,
        study_name: str,
        sampler: DictConfig,
        pruner: DictConfig,
        params: DictConfig,
    ) -> None:
        self.direction, self.n_trials, self.n_jobs = direction, n_trials, max(1, n_jobs)
        self.storage, self.study_name = storage, study_name
        self.sampler_config, self.pruner_config = sampler, pruner
        self.params = OmegaConf.to_container(params, resolve=True) if params else {}

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> None:
        import optuna
        from hydra.utils import instantiate

        from inception_tl.search.space import parse_space, trial_overrides
        from inception_tl.search.study import finished_trials, open_study, write_results

        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        space = parse_space(self.params, arguments)
        sampler, pruner = instantiate(self.sampler_config), instantiate(self.pruner_config)
        study = open_study(self.storage, self.study_name, self.direction, sampler, pruner, space)
        metric = str(self.config.optimized_metric)
        pruner_override = self._pruner_override()
        try:
            while (remaining := self.n_trials - finished_trials(study)) > 0:
                trials = [study.ask(space.distributions) for _ in range(min(self.n_jobs, remaining))]
                batch = [
                    [
                        *trial_overrides(space, trial.params),
                        f"+search.storage='{self.storage}'",
                        f"+search.study_name={self.study_name}",
                        f"+search.trial_id={trial._trial_id}",  # the storage's key: the job reports under it
                        pruner_override,
                    ]
                    for trial in trials
                ]
                returns = self.launcher.launch(batch, initial_job_idx=trials[0].number)
                for trial, result in zip(trials, returns, strict=True):
                    self._tell(study, trial, result, optuna)
        finally:
            write_results(study, space, sweep_dir, metric)

    def _pruner_override(self) -> str:
        """The pruner's config as one override, so each job builds the same pruner for its checks."""
        values = OmegaConf.to_container(self.pruner_config, resolve=True)
        body = ",".join(f"{key}:{value if value is not None else 'null'}" for key, value in values.items())
        return f"+search.pruner={{{body}}}"

    @staticmethod
    def _tell(study: Any, trial: Any, result: Any, optuna: Any) -> None:
        """Record the job's outcome; a job that failed for another reason than pruning stops the search."""
        error = result._return_value if result.status == JobStatus.FAILED else None
        if isinstance(error, optuna.TrialPruned):
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif error is not None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise error
        elif result.return_value is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise RuntimeError(f"Trial {trial.number} returned no value: is optimized_metric a validation metric?")
        else:
            study.tell(trial, float(result.return_value))
        log.info("Trial %d: %s", trial.number, study.trials[trial.number].state.name)
