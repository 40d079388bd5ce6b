"""A trained model from its checkpoint alone: the backbone, head, classes and preprocessing it stores."""

from __future__ import annotations

from inception_tl.models.classifier import ImageClassifier
from inception_tl.training.checkpoints import read_checkpoint


def load_classifier(ckpt_path: str) -> ImageClassifier:
    """The model of a checkpoint on the CPU, without fetching pretrained weights it will overwrite."""
    checkpoint = read_checkpoint(ckpt_path)
    hyperparameters = dict(checkpoint["hyper_parameters"])
    if "data" in hyperparameters:  # checkpoints written before the key was named for what it is
        hyperparameters["trained_on"] = hyperparameters.pop("data")
    model = ImageClassifier(**hyperparameters, load_weights=False)
    model.load_state_dict(checkpoint["state_dict"])
    return model
