"""Class-weighted training loss: scikit-learn's `balanced` weights or the user's, in training only."""

import pytest
import torch
import torch.nn.functional as F

from inception_tl.config.instantiate import instantiate
from inception_tl.errors import ConfigError
from inception_tl.models.build import build_model
from inception_tl.models.loss import class_weights
from tests.helpers import classifier, compose_config, write_image_tree


def test_balanced_weights_are_scikit_learns_and_a_list_is_taken_in_class_order():
    counts = {"cat": 30, "dog": 10, "fox": 20}
    weights = class_weights("balanced", counts, ["cat", "dog", "fox"])
    # compute_class_weight("balanced"): n_samples / (n_classes * bincount)
    assert weights == pytest.approx([60 / (3 * 30), 60 / (3 * 10), 60 / (3 * 20)])
    assert class_weights([1, 2.5, 1], counts, ["cat", "dog", "fox"]) == [1.0, 2.5, 1.0]
    assert class_weights(None, counts, ["cat", "dog", "fox"]) is None


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ([1.0, 2.0], "one positive weight per class"),
        ([1.0, 0.0, 1.0], "one positive weight per class"),
        ("inverse", "choose null, balanced, or a list of 3 numbers"),
    ],
)
def test_wrong_weights_are_refused_naming_the_classes(setting, complaint):
    with pytest.raises(ConfigError, match=complaint):
        class_weights(setting, {"cat": 3, "dog": 1, "fox": 2}, ["cat", "dog", "fox"])


def test_a_class_without_training_images_cannot_be_balanced():
    with pytest.raises(ConfigError, match=r"no images of \['dog'\]"):
        class_weights("balanced", {"cat": 3, "dog": 0}, ["cat", "dog"])


def test_the_training_loss_is_weighted_and_the_evaluation_loss_is_not():
    model = classifier({"strategy": "full"})
    model.register_buffer("class_weight", torch.tensor([1.0, 3.0]), persistent=False)
    logits, labels = torch.randn(6, 2), torch.tensor([0, 1, 1, 0, 1, 1])
    model.train()
    assert model._loss(logits, labels) == pytest.approx(
        float(F.cross_entropy(logits, labels, weight=torch.tensor([1.0, 3.0])))
    )
    model.eval()
    assert model._loss(logits, labels) == pytest.approx(float(F.cross_entropy(logits, labels)))


def test_a_run_with_balanced_weights_builds_its_model_with_them(tmp_path):
    root = write_image_tree(tmp_path / "images", {"train": {"a": 12, "b": 4}})
    overrides = ["data=imagefolder", f"data.root={root}", "data.image_size=75", "data.val_split=0.25"]
    overrides += [f"paths.data_dir={tmp_path / 'cache'}", "backbone.pretrained=false", "loss.class_weights=balanced"]
    cfg = compose_config(overrides, tmp_path / "run")
    datamodule = instantiate(cfg.data, backbone=cfg.backbone.name)
    model = build_model(cfg, datamodule)
    assert datamodule.setup_data().counts["train"] == {"a": 9, "b": 3}
    assert model.hparams.class_weights == pytest.approx([12 / (2 * 9), 12 / (2 * 3)])
    assert model.class_weight.tolist() == pytest.approx([12 / 18, 2.0])  # a buffer: moves with the model
    assert "class_weight" not in model.state_dict()  # the hyperparameters carry it, not the weights


def test_label_smoothing_lives_in_loss_and_the_old_key_still_works_with_a_word(tmp_path, capsys):
    from inception_tl.models.build import label_smoothing

    assert label_smoothing(compose_config(["loss.label_smoothing=0.1"], tmp_path)) == 0.1
    assert capsys.readouterr().out == ""
    assert label_smoothing(compose_config(["label_smoothing=0.2"], tmp_path)) == 0.2
    assert "label_smoothing=0.2 is now loss.label_smoothing=0.2" in capsys.readouterr().out
    assert compose_config([], tmp_path).loss.label_smoothing == 0.0
