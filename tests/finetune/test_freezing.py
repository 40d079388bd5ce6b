"""Frozen means frozen: warm-up, release from a named block, gradual release with discriminative rates."""

import pytest
import torch

from inception_tl.errors import ConfigError
from tests.helpers import EpochSnapshots, changed, classifier, fit, make_datamodule, snapshot, write_image_tree


@pytest.fixture(scope="module")
def tiny_data(shared_tmp):
    """12 training images (3 batches of 4) and 4 validation images of two classes."""
    root = write_image_tree(shared_tmp("tiny"), {"train": {"a": 8, "b": 8}})
    return make_datamodule(root, val_split=0.25)


def stage_keys(model, names) -> set[str]:
    """The backbone state-dict keys (parameters and buffers) of the named stages."""
    prefixes = tuple(f"{name}." for name in names)
    return {key for key in model.backbone.state_dict() if key.startswith(prefixes)}


# bf16-mixed: autocast on the CPU, as 16-mixed is on a GPU (the frozen prefix runs under no_grad and autocast).
# Two epochs in full precision (a second epoch's train() must not let BatchNorm move either), one in bf16: the
# mode is precision-independent, and CPU bf16 convolutions are four times slower here.
@pytest.mark.parametrize(("precision", "epochs"), [("32-true", 2), ("bf16-mixed", 1)])
def test_warmup_trains_the_head_and_leaves_backbone_and_batchnorm_statistics_bit_identical(
    tiny_data, precision, epochs
):
    model = classifier({"strategy": "warmup", "warmup_epochs": 5})
    backbone, head = snapshot(model.backbone), snapshot(model.head)
    fit(model, tiny_data, epochs=epochs, precision=precision)
    assert changed(backbone, model.backbone.state_dict()) == set()
    assert changed(head, model.head.state_dict()) == set(head)  # weight and bias both moved
    assert model.trainable_parameters() == sum(p.numel() for p in model.head.parameters())


def test_train_bn_lets_frozen_batchnorm_update_its_statistics_but_not_its_weights(tiny_data):
    model = classifier({"strategy": "linear_probe", "train_bn": True})
    backbone = snapshot(model.backbone)
    fit(model, tiny_data, epochs=1)
    moved = changed(backbone, model.backbone.state_dict())
    assert moved
    assert all(key.endswith(("running_mean", "running_var", "num_batches_tracked")) for key in moved)


@pytest.mark.parametrize(
    ("backbone", "unfreeze_from"),
    [("inception_v3", "Mixed_7a"), ("inception_v4", "features.18"), ("inception_resnet_v2", "repeat_2.0")],
)
def test_after_the_warmup_exactly_the_blocks_from_unfreeze_from_up_change(tiny_data, backbone, unfreeze_from):
    model = classifier({"strategy": "warmup", "warmup_epochs": 1, "unfreeze_from": unfreeze_from}, backbone)
    names = [stage.name for stage in model.stages]
    frozen = names[: names.index(unfreeze_from)]
    before = snapshot(model.backbone)
    epochs = EpochSnapshots()
    fit(model, tiny_data, epochs=2, callbacks=[epochs])
    assert changed(before, epochs.states[0]) == set()  # epoch 0: warm-up
    moved = changed(before, epochs.states[1])
    assert moved & stage_keys(model, frozen) == set()
    stages = model.stages[len(frozen) :]
    released_parameters = {f"{stage.name}.{name}" for stage in stages for name, _ in stage.module.named_parameters()}
    assert released_parameters <= moved  # every parameter of every released block took a step
    assert epochs.frozen == [len(names), len(frozen)]


def test_gradual_releases_groups_top_down_with_decaying_learning_rates(tiny_data):
    finetune = {
        "strategy": "gradual",
        "warmup_epochs": 1,
        "every_n_epochs": 1,
        "backbone_lr_scale": 0.2,
        "lr_decay": 0.5,
        "min_lr_scale": 0.02,
    }
    model = classifier(finetune, lr=1e-2)
    epochs = EpochSnapshots()
    before = snapshot(model.backbone)
    trainer = fit(model, tiny_data, epochs=3, callbacks=[epochs])

    names = [stage.name for stage in model.stages]
    assert [names[frozen] if frozen < len(names) else "head" for frozen in epochs.frozen] == [
        "head",
        "Mixed_7c",
        "Mixed_7b",
    ]
    moved_by_epoch = [changed(before, state) for state in epochs.states]
    assert moved_by_epoch[0] == set()
    assert {key.split(".")[0] for key in moved_by_epoch[1]} == {"Mixed_7c"}
    assert {key.split(".")[0] for key in moved_by_epoch[2]} == {"Mixed_7b", "Mixed_7c"}

    rates = {group["name"]: group["lr"] for group in trainer.optimizers[0].param_groups}
    expected = {"head": 1e-2, "Mixed_7c": 2e-3, "Mixed_7b": 1e-3, "Mixed_7a": 5e-4, "Mixed_6e": 2.5e-4}
    expected |= {"Mixed_6d": 2e-4, "Conv2d_1a_3x3": 2e-4}  # 1.25e-4 and below are floored at 0.02 x lr
    for name, lr in expected.items():
        assert rates[name] == pytest.approx(lr)
        assert rates[f"{name}.no_decay"] == pytest.approx(lr)


def test_weight_decay_skips_biases_and_norms_and_every_parameter_is_in_one_group():
    model = classifier({"strategy": "warmup", "warmup_epochs": 1})
    groups = model.configure_optimizers()["optimizer"].param_groups
    grouped = [id(p) for group in groups for p in group["params"]]
    assert sorted(grouped) == sorted(id(p) for p in model.parameters())
    for group in groups:
        one_dimensional = all(p.ndim <= 1 for p in group["params"])
        assert group["weight_decay"] == (0.0 if group["name"].endswith(".no_decay") else 0.01)
        assert one_dimensional == group["name"].endswith(".no_decay")


def test_training_without_the_schedule_callback_is_refused(tiny_data):
    model = classifier({"strategy": "warmup", "warmup_epochs": 1})
    with pytest.raises(ConfigError, match="FreezeScheduleCallback"):
        fit(model, tiny_data, epochs=1, schedule_callback=False)


def test_a_frozen_backbone_gives_no_gradient_to_the_optimizer_but_eval_mode_lets_gradients_reach_the_input():
    model = classifier({"strategy": "linear_probe"})
    model.train()
    model(torch.randn(2, 3, 75, 75)).sum().backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    model.eval()
    images = torch.randn(1, 3, 75, 75, requires_grad=True)
    model(images).sum().backward()
    assert images.grad is not None
