"""A trained model as a timm / Hugging Face folder: `config.json` and `model.safetensors` in the layout timm's
`save_for_hf` writes and `timm.create_model("local-dir:DIR")` / `"hf-hub:user/name"` read, plus what only this
package uses (the `inception_tl` block of config.json, and `head.safetensors` for a head timm has no layer for).

A linear head becomes the timm model's own classifier, so plain timm gives the checkpoint's logits. The recipes'
MLP head (Dense -> ReLU -> Dropout -> Dense) is not a timm architecture: the folder's `model.safetensors` is then
the fine-tuned backbone alone (`num_classes=0`, a feature extractor in timm) and the head is `head.safetensors`,
which `load_classifier` puts back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import safetensors.torch
import timm
from timm.models import save_for_hf
from torch import nn

from inception_tl.errors import ConfigError
from inception_tl.models.backbone import size_options
from inception_tl.models.classifier import ImageClassifier, backbone_spec

HEAD_FILE = "head.safetensors"
# The keys of the `inception_tl` block that become ImageClassifier's hyperparameters.
MODEL_KEYS = ("backbone", "class_names", "preprocessing", "multi_label", "temperature", "thresholds", "trained_on")


def head_in_timm(classifier: ImageClassifier) -> bool:
    """Whether timm's own classifier layer can hold the head: a single linear layer."""
    return isinstance(classifier.head, nn.Linear)


def timm_model_classifier_layer(classifier: ImageClassifier) -> str:
    return timm.models.get_pretrained_cfg(backbone_spec(classifier.hparams.backbone).name).classifier


def timm_model(classifier: ImageClassifier) -> nn.Module:
    """The classifier as a plain timm model with its trained weights: the head as timm's classifier layer where it
    is linear, else the backbone alone (`num_classes=0`)."""
    spec = backbone_spec(classifier.hparams.backbone)
    size = classifier.hparams.preprocessing["input_size"][-1]
    linear = head_in_timm(classifier)
    options = {**size_options(spec.name, size), **dict(spec.model_kwargs or {})}
    model = timm.create_model(spec.name, pretrained=False, num_classes=len(classifier.class_names) if linear else 0,
                              **options)
    state = {key: value.detach().clone() for key, value in classifier.backbone.state_dict().items()}
    if linear:
        layer = timm_model_classifier_layer(classifier)
        state[f"{layer}.weight"] = classifier.head.weight.detach().clone()
        state[f"{layer}.bias"] = classifier.head.bias.detach().clone()
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ConfigError(
            f"timm's {spec.name} with {len(classifier.class_names)} classes does not take this model's weights "
            f"({str(error).splitlines()[0]}); export format=onnx or torchscript instead."
        ) from None
    return model.eval()


def package_block(classifier: ImageClassifier, version: str) -> dict[str, Any]:
    """What this package needs beyond timm's config to rebuild the classifier exactly (head, calibration)."""
    hparams = classifier.hparams
    return {
        "version": version,
        "head_in_timm": head_in_timm(classifier),
        # Where timm keeps the classifier layer of this architecture (fc, last_linear, classif, head.fc, ...).
        "classifier_layer": timm_model_classifier_layer(classifier),
        "backbone": dict(hparams.backbone),
        "class_names": classifier.class_names,
        "preprocessing": dict(hparams.preprocessing),
        "multi_label": bool(hparams.get("multi_label", False)),
        "temperature": float(hparams.get("temperature", 1.0)),
        "thresholds": classifier.objective.thresholds,
        "trained_on": dict(hparams.get("trained_on") or {}),
    }


def write_timm_folder(classifier: ImageClassifier, directory: Path, version: str) -> Path:
    """`config.json` and `model.safetensors` (timm's layout, the preprocessing as its `pretrained_cfg`), and
    `head.safetensors` for a head timm cannot hold. Returns `directory`."""
    model = timm_model(classifier)
    preprocessing = dict(classifier.hparams.preprocessing)
    data_config = {key: preprocessing[key] for key in ("input_size", "interpolation", "mean", "std", "crop_pct")}
    data_config["crop_mode"] = preprocessing.get("crop_mode", "center")
    model_config: dict[str, Any] = {"inception_tl": package_block(classifier, version)}
    if head_in_timm(classifier):
        model_config["label_names"] = classifier.class_names
    save_for_hf(model, str(directory), model_config=model_config, data_config=data_config, safe_serialization=True)
    if not head_in_timm(classifier):
        head = {key: value.detach().contiguous() for key, value in classifier.head.state_dict().items()}
        safetensors.torch.save_file(head, directory / HEAD_FILE)
    return directory


def read_timm_folder(directory: Path) -> ImageClassifier:
    """The classifier a folder of `write_timm_folder` holds, on the CPU; ConfigError naming what is missing."""
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise ConfigError(f"{directory} has no config.json: pass a checkpoint or a folder written by export.py "
                          "format=timm.")
    block = json.loads(config_path.read_text()).get("inception_tl")
    if block is None:
        raise ConfigError(
            f"{config_path} was not written by inception_tl's export (no `inception_tl` block): load it with "
            f"timm.create_model('local-dir:{directory}', pretrained=True) instead."
        )
    weights_path = directory / "model.safetensors"
    if not weights_path.is_file():
        raise ConfigError(f"{directory} has config.json but no model.safetensors: copy the whole folder.")
    hyperparameters = {key: block[key] for key in MODEL_KEYS if key in block}
    # As a checkpoint holds them (JSON has no tuples): input_size, mean and std.
    preprocessing = hyperparameters["preprocessing"]
    hyperparameters["preprocessing"] = {k: tuple(v) if isinstance(v, list) else v for k, v in preprocessing.items()}
    classifier = ImageClassifier(**hyperparameters, load_weights=False)
    state = safetensors.torch.load_file(weights_path)
    if block["head_in_timm"]:
        layer = block["classifier_layer"]
        head = {name: state.pop(f"{layer}.{name}") for name in ("weight", "bias")}
    else:
        head_path = directory / HEAD_FILE
        if not head_path.is_file():
            raise ConfigError(f"{directory} has no {HEAD_FILE}, which its MLP head needs: copy the whole folder.")
        head = safetensors.torch.load_file(head_path)
    classifier.backbone.load_state_dict(state)
    classifier.head.load_state_dict(head)
    return classifier.eval()
