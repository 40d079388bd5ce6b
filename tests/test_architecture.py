"""Imports run downwards only (tasks -> evaluation / deploy / serving -> models -> training -> config -> data /
finetune -> errors), and only the tasks read Hydra's runtime state: what every part needs reaches it as arguments."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "inception_tl"
# A part may import its own layer and those below it.
LAYERS = {
    "errors": 0,
    "console": 0,
    "data": 1,
    "finetune": 1,
    "config": 2,
    "training": 3,
    "models": 4,
    "evaluation": 5,
    "search": 5,
    "deploy": 5,
    "serving": 5,
    "tasks": 6,
}
HYDRA_STATE = ("hydra.core.hydra_config", "hydra.types")


def imported_modules(path: Path, package_dir: Path = PACKAGE) -> list[str]:
    """Every module `path` imports, at the top or inside a function (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(package_dir.parent).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parents, base]).strip(".")
            found.append(base)
    return found


def part_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "inception_tl" and len(parts) > 1 else None


def modules() -> list[tuple[str, Path]]:
    return [(path.relative_to(PACKAGE).parts[0].removesuffix(".py"), path) for path in sorted(PACKAGE.rglob("*.py"))]


def test_every_part_of_the_package_has_a_layer():
    assert {part for part, _ in modules() if part != "__init__"} == set(LAYERS)


def test_no_module_imports_from_a_layer_above_its_own():
    upward = []
    for part, path in modules():
        if part == "__init__":
            continue
        for module in imported_modules(path):
            target = part_of(module)
            if target is not None and LAYERS[target] > LAYERS[part]:
                upward.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not upward, "\n".join(upward)


def test_only_the_tasks_read_hydras_runtime_state():
    readers = [
        str(path.relative_to(PACKAGE))
        for part, path in modules()
        if part != "tasks" and any(module.startswith(HYDRA_STATE) for module in imported_modules(path))
    ]
    assert not readers


def test_the_parser_finds_imports_inside_functions_and_relative_ones(tmp_path):
    """Where an upward import would hide: in a function body, or written relative to the package."""
    module = tmp_path / "inception_tl" / "data" / "example.py"
    module.parent.mkdir(parents=True)
    module.write_text("from ..models import head\n\ndef f():\n    import inception_tl.tasks.train\n")
    found = imported_modules(module, tmp_path / "inception_tl")
    assert [part_of(name) for name in found] == ["models", "tasks"]


def entry_tasks() -> set[str]:
    """The task modules the entry scripts run (tasks/train.py for train.py, ...), read from the scripts."""
    root = PACKAGE.parents[1]
    found = set()
    for name in ("train.py", "eval.py", "predict.py", "export.py", "lr_find.py"):
        for node in ast.walk(ast.parse((root / name).read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("inception_tl.tasks."):
                found.add(node.module)
    return found - {"inception_tl.tasks.cli"}


def test_no_task_imports_another():
    """What two tasks share belongs a layer down (models/build.py, evaluation/file_predictions.py); the tasks
    package's own plumbing (cli, summary, run_identity) reads Hydra's state and stays with them."""
    tasks = entry_tasks()
    assert tasks == {f"inception_tl.tasks.{name}" for name in ("train", "evaluate", "predict", "export", "lr_find")}
    crossing = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for part, path in modules()
        if part == "tasks" and f"inception_tl.tasks.{path.stem}" in tasks
        for module in imported_modules(path)
        if module in tasks and module != f"inception_tl.tasks.{path.stem}"
    ]
    assert not crossing, "\n".join(crossing)


def test_one_console():
    """Every part prints through inception_tl.console: one place sets how the package writes to the terminal."""
    makers = [
        str(path.relative_to(PACKAGE))
        for _, path in modules()
        if path.name != "console.py" and "Console(" in path.read_text()
    ]
    assert not makers
