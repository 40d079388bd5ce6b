"""A trained model from what training or export left: a checkpoint (best.ckpt), a folder written by
`export.py format=timm`, or that folder on the Hugging Face hub (`hf-hub:user/name`, optionally `@revision`)."""

from __future__ import annotations

from pathlib import Path

from inception_tl.errors import ConfigError, WeightsError
from inception_tl.models.classifier import ImageClassifier
from inception_tl.models.timm_folder import read_timm_folder
from inception_tl.training.checkpoints import read_checkpoint

HUB_PREFIX = "hf-hub:"


def load_classifier(source: str | Path) -> ImageClassifier:
    """The model of a checkpoint, an exported folder or a hub repository, on the CPU, in eval mode where it came
    from a folder; pretrained weights it would overwrite are never fetched."""
    text = str(source)
    if text.startswith(HUB_PREFIX):
        return read_timm_folder(download_hub_folder(text.removeprefix(HUB_PREFIX)))
    if Path(text).expanduser().is_dir():
        return read_timm_folder(Path(text).expanduser())
    if not Path(text).expanduser().exists():
        raise ConfigError(
            f"ckpt_path={text!r} is not a file. Pass a checkpoint (outputs/.../best.ckpt), a folder written by "
            "export.py format=timm, or hf-hub:user/name."
        )
    checkpoint = read_checkpoint(Path(text).expanduser())
    hyperparameters = dict(checkpoint["hyper_parameters"])
    if "data" in hyperparameters:  # checkpoints written before the key was named for what it is
        hyperparameters["trained_on"] = hyperparameters.pop("data")
    model = ImageClassifier(**hyperparameters, load_weights=False)
    model.load_state_dict(checkpoint["state_dict"])
    return model


def download_hub_folder(repo: str) -> Path:
    """The files of hub repository `repo` (`user/name` or `user/name@revision`) in the local hub cache."""
    from huggingface_hub import snapshot_download

    repo_id, _, revision = repo.partition("@")
    try:
        return Path(snapshot_download(repo_id, revision=revision or None))
    except Exception as error:  # the hub client raises many types (offline, 404, gated, cache errors)
        raise WeightsError(
            f"Could not download hf-hub:{repo} from the Hugging Face hub: {str(error).splitlines()[0]}. "
            "Check the name and your connection (a private repository needs `hf auth login`), or download the "
            "folder elsewhere and pass its path."
        ) from None
