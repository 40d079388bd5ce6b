"""Hyperparameter search: `train.py -m hparams_search=...` runs Optuna trials through Hydra, writes the trial
table and the best command, resumes an interrupted search from its SQLite storage, and prunes trials."""

import csv
import subprocess

import optuna
import pytest
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from inception_tl.errors import ConfigError
from inception_tl.search.space import parse_space, trial_overrides
from inception_tl.tasks.cli import run_or_exit
from inception_tl.tasks.train import run
from tests.helpers import compose_config, run_entry_point, write_image_tree

TINY = ["backbone.pretrained=false", "data.image_size=75", "data.batch_size=4", "data.num_workers=0"]
TINY += ["trainer=cpu", "callbacks.progress_bar=null"]
TINY += ["callbacks.model_checkpoint=null"]  # no trial's best.ckpt is read here (test_recipes reads a run's)


def test_the_search_space_reads_hydras_sweep_syntax_and_the_command_line_wins():
    params = {
        "optim.lr": "tag(log, interval(1e-5, 1e-2))",
        "finetune.warmup_epochs": "range(0, 4)",
        "backbone.head.hidden": "choice(128, 256)",
        "backbone.head.kind": "mlp",
    }
    space = parse_space(params, ["data=shapes", "backbone.head.hidden=choice(64, 96)", "finetune.warmup_epochs=2"])
    assert parse_space({"optim": {"lr": "interval(0.1, 0.2)"}}, []).distributions == {
        "optim.lr": FloatDistribution(0.1, 0.2)
    }
    assert space.distributions == {
        "optim.lr": FloatDistribution(1e-5, 1e-2, log=True),
        "backbone.head.hidden": CategoricalDistribution([64, 96]),
    }
    assert list(space.fixed.values()) == ["backbone.head.kind=mlp", "data=shapes", "finetune.warmup_epochs=2"]
    overrides = trial_overrides(space, {"optim.lr": 0.001, "backbone.head.hidden": 64})
    assert overrides[-2:] == ["optim.lr=0.001", "backbone.head.hidden=64"]
    assert parse_space({"n": "range(1, 7, 2)"}, []).distributions["n"] == IntDistribution(1, 5, step=2)
    with pytest.raises(ConfigError, match="Nothing to search"):
        parse_space({"backbone.head.kind": "mlp"}, [])


def test_any_backbone_can_search_among_backbones(tmp_path):
    """A choice of config-group options is a categorical parameter, and a trial's override picks the group."""
    space = parse_space({"optim.lr": "interval(1e-4, 1e-2)"}, ["backbone=choice(inception_v3, convnext_tiny)"])
    assert space.distributions["backbone"] == CategoricalDistribution(["inception_v3", "convnext_tiny"])
    overrides = trial_overrides(space, {"optim.lr": 0.001, "backbone": "convnext_tiny"})
    assert overrides == ["optim.lr=0.001", "backbone=convnext_tiny"]
    cfg = compose_config(["hparams_search=any_backbone", *overrides], tmp_path)
    assert (cfg.backbone.name, cfg.optim.lr) == ("convnext_tiny", 0.001)


@pytest.fixture(scope="module")
def folder(shared_tmp):
    root = shared_tmp("search")
    return write_image_tree(root / "mine", {"train": {"cat": 6, "dog": 6}, "test": {"cat": 2, "dog": 2}}, size=64)


def test_a_trial_the_pruner_rejects_stops_after_its_first_epoch(tmp_path, folder):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    trial = study.ask()
    # Accuracy never reaches 1.5: this pruner prunes at the first report.
    pruner = "{_target_:optuna.pruners.ThresholdPruner,lower:1.5}"
    overrides = ["data=imagefolder", f"data.root={folder}", f"paths.data_dir={tmp_path / 'cache'}", *TINY]
    overrides += ["trainer.max_epochs=3", "finetune=full", f"+search.storage='{storage}'", "+search.study_name=s"]
    overrides += [f"+search.trial_id={trial._trial_id}", f"+search.pruner={pruner}"]
    run_dir = tmp_path / "run"
    with pytest.raises(optuna.TrialPruned, match="after epoch 0"):
        run(compose_config(overrides, run_dir))
    reported = study.trials[0].intermediate_values
    assert list(reported) == [1]  # one epoch trained, reported as one unit of resource
    assert 0.0 <= reported[1] <= 1.0
    assert not (run_dir / "metrics.json").exists()  # a pruned trial is not evaluated


def search(sweep_dir, folder, *extra: str) -> subprocess.CompletedProcess:
    """`python train.py -m hparams_search=inception_v3 ...`, in this process (tests.helpers.run_entry_point)."""
    arguments = ["-m", "hparams_search=inception_v3", "data=imagefolder", f"data.root={folder}"]
    arguments += [f"paths.data_dir={sweep_dir.parent / 'cache'}", *TINY, "trainer.max_epochs=1"]
    result = run_entry_point("train.py", *arguments, f"hydra.sweep.dir={sweep_dir}", *extra)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def read_trials(sweep_dir) -> list[dict]:
    with open(sweep_dir / "trials.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_a_two_trial_search_writes_its_table_and_best_command_and_resumes_an_interrupted_trial(tmp_path, folder):
    sweep_dir = tmp_path / "sweep"
    result = search(sweep_dir, folder, "hydra.sweeper.n_trials=2")
    rows = read_trials(sweep_dir)
    assert [row["trial"] for row in rows] == ["0", "1"]
    assert {row["state"] for row in rows} <= {"COMPLETE", "PRUNED"}
    assert all(0.0 <= float(row["optim.lr"]) <= 1e-2 for row in rows)
    best = OmegaConf.load(sweep_dir / "best.yaml")
    completed = [row for row in rows if row["state"] == "COMPLETE"]
    assert best.value == max(float(row["value"]) for row in completed)
    assert best.command in result.stdout
    assert best.command.startswith("python train.py backbone.head.kind=mlp backbone=inception_v3 ")
    assert "hparams_search" not in best.command
    assert "+search" not in best.command
    trial_row = next(row for row in rows if row["trial"] == str(best.trial))
    assert f"optim.lr={float(trial_row['optim.lr'])!r}" in best.command
    for row in rows:  # each trial is one run directory, with the report's tables but not its figures
        assert (sweep_dir / row["trial"] / "config.yaml").is_file()
        assert not (sweep_dir / row["trial"] / "checkpoints" / "last.ckpt").exists()
        if row["state"] == "COMPLETE":
            written = sorted(path.name for path in (sweep_dir / row["trial"] / "report").iterdir())
            assert written == ["per_class.csv", "per_class.json", "predictions.csv"]

    # A trial cut short (the process killed mid-trial) stays RUNNING in the storage; the next run of the
    # same command marks it failed, runs its parameters again, then goes on to n_trials.
    study = optuna.load_study(study_name="inception_tl", storage=f"sqlite:///{sweep_dir / 'optuna.db'}")
    killed = study.ask({"optim.lr": FloatDistribution(1e-5, 1e-2, log=True)})
    result = search(sweep_dir, folder, "hydra.sweeper.n_trials=3")
    assert f"Trial {killed.number} was interrupted" in result.stdout
    rows = read_trials(sweep_dir)
    assert [row["state"] for row in rows[:3]] == [rows[0]["state"], rows[1]["state"], "FAIL"]
    assert len(rows) == 4
    assert rows[3]["state"] in ("COMPLETE", "PRUNED")
    assert float(rows[3]["optim.lr"]) == killed.params["optim.lr"]
    assert (sweep_dir / "3" / "config.yaml").is_file()


def test_a_search_config_without_multirun_says_to_add_m(tmp_path, capsys):
    cfg = compose_config(["hparams_search=inception_v3"], tmp_path)  # composed as a single run, as without -m
    with pytest.raises(SystemExit) as exited:
        run_or_exit(run, cfg)
    assert exited.value.code == 1
    assert "add -m (python train.py -m hparams_search=inception_v3)" in capsys.readouterr().err
