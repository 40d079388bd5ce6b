"""The README.md model card of an exported folder: Hugging Face's metadata header, then what a person deciding
whether to use the model needs (task, data, test metrics, calibration, how to load it, limits, the command that
trained it), read from the run folder the checkpoint sits in.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import timm
import yaml

from inception_tl.models import ImageClassifier

# The run's report figures the card shows, copied into the folder beside it.
FIGURES = {"confusion_matrix.png": "Confusion matrix (test split)", "reliability.png": "Reliability diagram"}


@dataclass(frozen=True)
class RunRecord:
    """What a training run left beside its checkpoint: metrics.json, data_summary.json, the report, the command."""

    directory: Path | None

    @classmethod
    def of_checkpoint(cls, ckpt_path: str) -> RunRecord:
        """The run folder of `<run>/checkpoints/best.ckpt`; None for anything else (a folder, a moved file)."""
        path = Path(ckpt_path)
        run = path.resolve().parent.parent if path.is_file() and path.parent.name == "checkpoints" else None
        return cls(run if run is not None and (run / "metrics.json").is_file() else None)

    def json(self, name: str) -> dict[str, Any]:
        path = self.directory / name if self.directory else None
        return json.loads(path.read_text()) if path and path.is_file() else {}

    def figure(self, name: str) -> Path | None:
        path = self.directory / "report" / name if self.directory else None
        return path if path and path.is_file() else None

    def command(self) -> str | None:
        """`python train.py <the run's overrides>`, from Hydra's record of the command line."""
        path = self.directory / ".hydra" / "overrides.yaml" if self.directory else None
        if not path or not path.is_file():
            return None
        overrides = yaml.safe_load(path.read_text()) or []
        return " ".join(["python train.py", *overrides])


def test_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The test split's scalar metrics, by name without the `test/` prefix."""
    return {
        key.removeprefix("test/"): float(value)
        for key, value in metrics.items()
        if key.startswith("test/") and isinstance(value, int | float)
    }


def metadata(classifier: ImageClassifier, metrics: dict[str, float], library: str) -> str:
    backbone = classifier.hparams.backbone
    header: dict[str, Any] = {
        "library_name": library,
        "pipeline_tag": "image-classification",
        "license": "apache-2.0",
        "tags": ["image-classification", "timm", "inception_tl", backbone["name"]],
    }
    if backbone.get("pretrained", True):
        header["base_model"] = f"timm/{pretrained_weights_name(backbone['name'])}"
    if metrics:
        header["metrics"] = sorted(metrics)
    return "---\n" + yaml.safe_dump(header, sort_keys=False) + "---\n"


def pretrained_weights_name(name: str) -> str:
    """timm's full name of the default pretrained weights of `name` (inception_v3 -> inception_v3.tv_in1k)."""
    config = timm.models.get_pretrained_cfg(name)
    tag = getattr(config, "tag", None) if config is not None else None
    return name if "." in name or not tag else f"{name}.{tag}"


def metrics_table(metrics: dict[str, float], intervals: dict[str, list[float]]) -> list[str]:
    """The test metrics, each with its 95% bootstrap interval where the run computed one."""
    rows = ["| metric | value | 95% interval |", "| --- | --- | --- |"]
    for name, value in metrics.items():
        interval = intervals.get(f"test/{name}")
        shown = f"{interval[0]:.4f}-{interval[1]:.4f}" if interval else ""
        rows.append(f"| {name} | {value:.4f} | {shown} |")
    return rows


def data_lines(summary: dict[str, Any]) -> list[str]:
    counts = summary.get("counts", {})
    if not counts:
        return ["The data summary of the training run was not found beside the checkpoint."]
    lines = ["| split | images | per class |", "| --- | --- | --- |"]
    for split, per_class in counts.items():
        shown = ", ".join(f"{name} {count}" for name, count in per_class.items())
        lines.append(f"| {split} | {sum(per_class.values())} | {shown} |")
    return lines


def calibration_lines(classifier: ImageClassifier) -> list[str]:
    objective = classifier.objective
    if objective.multi_label:
        pairs = ", ".join(f"{name} {value:.3f}" for name, value in zip(classifier.class_names, objective.thresholds,
                                                                          strict=True))
        return [
            "Multi-label: each label's probability is `sigmoid(logit)`; label *k* is predicted where it reaches its "
            f"threshold, chosen on the validation split to maximise that label's F1: {pairs}.",
            "",
            "The thresholds are in `config.json` (`inception_tl.thresholds`); plain timm does not apply them.",
        ]
    temperature = float(classifier.hparams.get("temperature", 1.0))
    return [
        f"Temperature **T = {temperature:.4f}**, fitted on the validation split: calibrated probabilities are "
        "`softmax(logits / T)` (the predicted class does not change).",
        "",
        "Plain timm and transformers give the logits and do not divide them; this package (`load_model`, "
        "`predict.py`, `serve.py`) does. T is in `config.json` (`inception_tl.temperature`).",
    ]


def usage_lines(classifier: ImageClassifier, name: str, in_timm: bool) -> list[str]:
    source = f"hf-hub:{name}" if "/" in name else "local-dir:PATH_TO_THIS_FOLDER"
    ours = f"hf-hub:{name}" if "/" in name else "PATH_TO_THIS_FOLDER"
    timm_code = [
        "```python",
        "import timm, torch",
        "from PIL import Image",
        f'model = timm.create_model("{source}", pretrained=True).eval()',
        "config = timm.data.resolve_data_config(model=model)",
        "transform = timm.data.create_transform(**config)",
        'image = transform(Image.open("photo.jpg").convert("RGB")).unsqueeze(0)',
        "with torch.no_grad():",
        "    logits = model(image)",
        "```",
    ]
    lines = ["### With this package", "", "```python", "import inception_tl",
             f'model = inception_tl.load_model("{ours}")  # the head, the temperature or thresholds included',
             "```", "",
             f"or from the command line: `python predict.py ckpt_path={ours} input=photos/`, "
             f"`python serve.py ckpt_path={ours}`.", ""]
    if in_timm:
        lines += ["### With timm", "", *timm_code, "",
                  "### With transformers", "",
                  "transformers reads timm folders through its `TimmWrapper` classes (not tested by inception_tl):",
                  "", "```python", "from transformers import pipeline",
                  f'classify = pipeline("image-classification", model="{ours.removeprefix("hf-hub:")}")', "```"]
    else:
        lines += [
            "### With timm",
            "",
            "This model's head (Dense -> ReLU -> Dropout -> Dense) is not a timm architecture: timm loads the "
            "fine-tuned **backbone only**, as a feature extractor (`num_classes=0`, pooled features out); the head "
            "is `head.safetensors`, which only inception_tl puts back. transformers cannot load the classifier.",
            "",
            *timm_code,
        ]
    return lines


def write_model_card(
    classifier: ImageClassifier, directory: Path, run: RunRecord, name: str, in_timm: bool
) -> Path:
    """README.md in `directory`, with the run's confusion matrix and reliability diagram copied beside it. `name`:
    the hub repository (`user/name`) the card's examples load, or the folder's name."""
    recorded = run.json("metrics.json")
    metrics = test_metrics(recorded)
    backbone = classifier.hparams.backbone["name"]
    classes = classifier.class_names
    task = "multi-label (several labels per image)" if classifier.objective.multi_label else "single-label"
    pretrained = classifier.hparams.backbone.get("pretrained", True)
    lines = [
        metadata(classifier, metrics, "timm" if in_timm else "inception_tl"),
        f"# {name.split('/')[-1]}",
        "",
        f"{backbone} fine-tuned with inception_tl for {task} image classification into "
        f"{len(classes)} classes: {', '.join(classes)}. "
        + ("Started from timm's ImageNet weights." if pretrained else "Trained from scratch (no pretrained weights)."),
        "",
        "## Data",
        "",
        *data_lines(run.json("data_summary.json")),
        "",
        "## Results (test split)",
        "",
        *(metrics_table(metrics, recorded.get("intervals", {})) if metrics else
          ["No test metrics were found beside the checkpoint."]),
        "",
    ]
    for figure, title in FIGURES.items():
        source = run.figure(figure)
        if source is not None:
            shutil.copyfile(source, directory / figure)
            lines += [f"![{title}]({figure})", ""]
    preprocessing = classifier.hparams.preprocessing
    lines += [
        "## Calibration",
        "",
        *calibration_lines(classifier),
        "",
        "## Input",
        "",
        f"RGB, {preprocessing['input_size'][-1]} px square after timm's evaluation transform "
        f"(`crop_pct` {preprocessing['crop_pct']}, `crop_mode` {preprocessing.get('crop_mode', 'center')}, "
        f"{preprocessing['interpolation']} interpolation, mean {list(preprocessing['mean'])}, "
        f"std {list(preprocessing['std'])}): `config.json`'s `pretrained_cfg`, which "
        "`timm.data.resolve_data_config` reads.",
        "",
        "## How to use",
        "",
        *usage_lines(classifier, name, in_timm),
        "",
        "## Intended use and limits",
        "",
        f"Classifies images into the {len(classes)} classes above and nothing else: an image of anything else still "
        "gets one of them (single-label) or a label set from them. The figures above hold for images like the test "
        "split's; photos from another camera, place or time can score lower. Check it on your own labelled images "
        "(`python eval.py`) before relying on it, and keep a person in the loop where a wrong answer costs.",
        "",
        "## Training",
        "",
    ]
    command = run.command()
    lines += [f"```bash\n{command}\n```"] if command else ["The training command was not found beside the checkpoint."]
    path = directory / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path
