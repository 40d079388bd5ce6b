"""Every command the README and the docs document works as written: each entry-point command composes with its
script's config (what `--cfg job` checks: groups, keys, types, choices), and the search runs as written, in the
default sweep folder. The commands that train need weights or data that cannot be had here, or minutes;
test_train_cli runs the quickstart's shape end to end, eval, predict and export included."""

from __future__ import annotations

import csv
import os
import re
import shlex
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from tests.helpers import REPO, compose_config, run_entry_point

# The scripts composed by Hydra, and their config names.
HYDRA_SCRIPTS = {
    "train.py": "train",
    "eval.py": "eval",
    "predict.py": "predict",
    "export.py": "export",
    "lr_find.py": "lr_find",
    "serve.py": "serve",
    "shards.py": "shards",
    "benchmarks/throughput.py": "throughput",
}
DOCUMENTS = ["README.md", "benchmarks/README.md", *sorted(f"docs/{path.name}" for path in (REPO / "docs").glob("*.md"))]


def documented_commands(document: Path) -> list[list[str]]:
    """The commands of the document's ```bash blocks, a list of words each (continuation lines joined)."""
    blocks = re.findall(r"^```bash\n(.*?)^```", document.read_text(), flags=re.S | re.M)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(words)
    return commands


def script_and_arguments(words: list[str]) -> tuple[str, list[str]] | None:
    """(script, its arguments) of a command that runs one of the project's Python scripts (through python,
    torchrun or srun); None for others (pip, pytest). A placeholder the user fills in (`<run>`) becomes a name,
    and the shell's variables are expanded as the shell would (`~` is not: zsh leaves it in `key=~/...`)."""
    scripts = [index for index, word in enumerate(words) if word.endswith(".py")]
    if not scripts:
        return None
    arguments = [os.path.expandvars(re.sub(r"<(\w+)>", r"\1", word)) for word in words[scripts[0] + 1 :]]
    return words[scripts[0]], arguments


def single_run_overrides(arguments: list[str]) -> list[str]:
    """A multirun's overrides as one of its jobs: `-m` dropped, each sweep (`a,b`, `choice(a, b)`) at its first."""
    overrides = OverridesParser.create().parse_overrides(
        [word for word in arguments if word not in ("-m", "--multirun")]
    )
    single = []
    for override in overrides:
        if override.is_sweep_override():
            value = next(override.sweep_string_iterator())
            single.append(f"{override.get_key_element()}={value}")
        else:
            single.append(override.input_line)
    return single


# Each distinct command once: the README and the docs repeat some.
COMMANDS = [
    pytest.param(list(words), id=" ".join(words)[:100])
    for words in dict.fromkeys(
        tuple(words) for document in DOCUMENTS for words in documented_commands(REPO / document)
    )
]


def test_the_readme_documents_commands_of_every_entry_point():
    scripts = {
        script_and_arguments(words)[0] for words in (c.values[0] for c in COMMANDS) if script_and_arguments(words)
    }
    assert set(HYDRA_SCRIPTS) <= scripts
    assert len(COMMANDS) > 40


@pytest.mark.parametrize("words", COMMANDS)
def test_a_documented_command_composes(words, tmp_path):
    found = script_and_arguments(words)
    if found is None:
        assert words[0] in ("pip", "pytest", "ruff", "curl"), words
        return
    script, arguments = found
    assert (REPO / script).is_file(), script
    if script not in HYDRA_SCRIPTS:  # an argparse benchmark: its options are its own
        return
    cfg = compose_config(single_run_overrides(arguments), tmp_path, config_name=HYDRA_SCRIPTS[script])
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)  # every interpolation resolves


@pytest.mark.slow
def test_the_documented_search_runs_as_written_in_its_default_sweep_folder(tmp_path, monkeypatch):
    """`python train.py -m hparams_search=inception_v3 experiment=quickstart hydra.sweeper.n_trials=2` (README,
    Hyperparameter search), from a fresh working directory, with one trial on a tiny set."""
    written = "python train.py -m hparams_search=inception_v3 experiment=quickstart hydra.sweeper.n_trials=2"
    assert written.split() in documented_commands(REPO / "README.md")
    monkeypatch.chdir(tmp_path)
    tiny = ["hydra.sweeper.n_trials=1", "trainer.max_epochs=1", "data.source.train_per_class=8"]
    tiny += ["data.source.test_per_class=2", "data.batch_size=8", f"paths.data_dir={tmp_path / 'data'}"]
    result = run_entry_point("train.py", *written.split()[2:], *tiny)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    sweep = tmp_path / "outputs" / "search" / "inception_v3-shapes"
    with open(sweep / "trials.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["trial"], row["state"]) for row in rows] == [("0", "COMPLETE")]
    best = OmegaConf.load(sweep / "best.yaml")
    assert best.command.startswith("python train.py backbone.head.kind=mlp backbone=inception_v3 experiment=quickstart")
    assert best.command in result.stdout.replace("\n", "")


def test_the_readme_is_a_front_page_and_the_docs_hold_the_rest():
    assert len((REPO / "README.md").read_text().splitlines()) <= 250
    for page in ("quickstart", "real-runs", "fine-tuning", "labels", "levers", "configuration", "reference"):
        assert (REPO / "docs" / f"{page}.md").is_file(), page
