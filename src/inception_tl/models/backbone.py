"""Any timm model as a backbone, without its ImageNet classifier, with hub or local-file weights.

The Inception family (`conf/backbone/`) is the tested default; any other name timm knows is accepted.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import timm
import torch
from timm.models import load_state_dict

from inception_tl.data.preprocessing import check_backbone_name
from inception_tl.errors import ConfigError, WeightsError


def size_options(name: str, image_size: int | None) -> dict[str, int]:
    """`img_size` for a model built for one input size (a ViT) at another size; nothing for the others."""
    pretrained_cfg = timm.models.get_pretrained_cfg(name)
    native = pretrained_cfg.input_size[-1] if pretrained_cfg else None
    fixed = bool(pretrained_cfg and pretrained_cfg.fixed_input_size)
    return {"img_size": image_size} if fixed and image_size is not None and image_size != native else {}


def create_backbone(
    name: str,
    *,
    pretrained: bool,
    weights: str | None,
    image_size: int | None,
    model_kwargs: Mapping[str, Any] | None,
) -> torch.nn.Module:
    """A timm model returning pooled features (`num_classes=0`); Inception v3's auxiliary head is off.

    `weights` (a local file) wins over `pretrained` (timm's default weights from the Hugging Face hub). A model
    with a fixed input size (a ViT) is built for `image_size`; timm resamples its position embedding.
    """
    check_backbone_name(name)
    from_hub = pretrained and weights is None
    if from_hub:
        check_hub_reachable(name)
    options = {**size_options(name, image_size), **dict(model_kwargs or {})}
    try:
        model = timm.create_model(name, pretrained=from_hub, num_classes=0, **options)
    except TypeError as error:  # an argument the model's constructor does not take
        raise ConfigError(
            f"timm's {name} does not take {sorted(options)} ({error}). A model built for one input size takes no "
            f"other: set data.image_size={timm.models.get_pretrained_cfg(name).input_size[-1]}; check "
            f"backbone.model_kwargs against the model's constructor."
        ) from error
    except Exception as error:  # the hub client raises many types (offline, 404, proxy, cache errors)
        source = timm.models.get_pretrained_cfg(name).hf_hub_id
        raise WeightsError(
            f"Could not load pretrained {name} weights from the Hugging Face hub ({source}): {error}\n"
            f"Without internet, either train from scratch with backbone.pretrained=false, or download "
            f"the weights elsewhere and pass backbone.weights=/path/to/model.safetensors."
        ) from error
    patch = getattr(getattr(model, "patch_embed", None), "patch_size", None)
    if image_size is not None and patch is not None and image_size % patch[-1]:
        lower, upper = image_size // patch[-1] * patch[-1], (image_size // patch[-1] + 1) * patch[-1]
        raise ConfigError(
            f"{name} cuts images into {patch[-1]} px patches, so data.image_size={image_size} would lose its "
            f"edge; use a multiple of {patch[-1]} ({lower} or {upper})."
        )
    if weights is not None:
        load_backbone_weights(model, weights)
    return model


def hub_file(name: str) -> tuple[str, str]:
    """The Hugging Face hub repository and file timm reads `name`'s default weights from."""
    pretrained_cfg = timm.models.get_pretrained_cfg(name)
    if pretrained_cfg is None or not pretrained_cfg.hf_hub_id:
        raise WeightsError(
            f"timm has no hub weights for {name}; pass backbone.weights=/path/to/weights.safetensors or "
            f"backbone.pretrained=false."
        )
    return pretrained_cfg.hf_hub_id, pretrained_cfg.hf_hub_filename or "model.safetensors"


def check_hub_reachable(name: str, timeout: float = 3.0) -> None:
    """Fail within `timeout` seconds, naming the file to fetch, when `name`'s weights are not in the local hub cache
    and the hub cannot be reached: the hub client would retry for over a minute before giving up."""
    from huggingface_hub import constants, try_to_load_from_cache

    repository, filename = hub_file(name)
    if isinstance(try_to_load_from_cache(repository, filename), str):
        return
    fetch = (
        f"Without internet: train from scratch with backbone.pretrained=false, or fetch {filename} from "
        f"{constants.ENDPOINT}/{repository} on another machine and pass backbone.weights=/path/to/{filename}."
    )
    if constants.HF_HUB_OFFLINE:  # the hub client would say only that it is offline, not what to fetch
        raise WeightsError(
            f"HF_HUB_OFFLINE is set and the pretrained {name} weights are not in the local cache "
            f"({constants.HF_HUB_CACHE}). {fetch}"
        )
    endpoint = urllib.parse.urlsplit(constants.ENDPOINT)
    proxy = urllib.request.getproxies().get(endpoint.scheme)
    if proxy and not urllib.request.proxy_bypass(endpoint.hostname or ""):
        endpoint = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")  # the first hop
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
    except OSError as error:
        raise WeightsError(
            f"Could not reach the Hugging Face hub ({constants.ENDPOINT}: {error}) for the pretrained {name} "
            f"weights, and they are not in the local cache ({constants.HF_HUB_CACHE}). {fetch}"
        ) from error


def is_convolutional(model: torch.nn.Module) -> bool:
    """More than one 2-d convolution: a CNN, which channels_last speeds up. A ViT has one (its patch embedding)
    and then runs on tokens, where the layout changes nothing but a copy."""
    return sum(isinstance(module, torch.nn.Conv2d) for module in model.modules()) > 1


def load_backbone_weights(model: torch.nn.Module, path: str | Path) -> None:
    """Load a `.safetensors` or `.pth` state dict into `model`, strictly, ignoring an ImageNet classifier.

    timm's reader does the file handling (safetensors, `torch.load(weights_only=True)`, EMA and
    `module.` unwrapping). timm's own `pretrained_cfg_overlay=dict(file=...)` path is not used: it
    loads non-strictly whenever the head is replaced (always, here), so a file for another model
    would load silently with random layers left behind.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"backbone.weights={path} does not exist.")
    try:
        state_dict = load_state_dict(str(path), weights_only=True)
    except Exception as error:  # pickle errors for unsafe files, header errors for corrupt ones
        raise WeightsError(
            f"Could not read weights from {path}: {error}\n"
            f"Use a .safetensors file or a .pth file holding a plain state dict of tensors."
        ) from error
    # timm's own conversion for the model's family, as for hub weights: a ViT's position embedding resampled to the
    # size the model was built for, older layouts renamed.
    convert = getattr(sys.modules.get(type(model).__module__), "checkpoint_filter_fn", None)
    if convert is not None:
        with contextlib.suppress(Exception):  # weights of another model: the strict check below says so clearly
            state_dict = convert(dict(state_dict), model)
    classifier = model.pretrained_cfg.get("classifier")
    for suffix in (".weight", ".bias"):
        state_dict.pop(f"{classifier}{suffix}", None)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(key for key in set(expected) & set(state_dict) if expected[key].shape != state_dict[key].shape)
    if missing or unexpected or mismatched:
        name = model.pretrained_cfg.get("architecture", type(model).__name__)
        raise WeightsError(
            f"{path} does not hold {name} weights: {len(missing)} missing, {len(unexpected)} unexpected "
            f"and {len(mismatched)} wrongly shaped tensors (for example "
            f"{(missing + unexpected + mismatched)[:3]}). Check that the file was saved from a timm "
            f"{name}, or pick the matching backbone= option."
        )
    model.load_state_dict(state_dict, strict=True)
