"""EMA weights: the average is what a hand computation over the steps gives, the checkpoints hold it and a resumed
run restores it exactly. (eval.py reproducing a run's test metrics from an EMA checkpoint: evaluation/test_one_pass.)"""

import shutil

import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from inception_tl.training.callbacks import EMAWeights
from tests.helpers import classifier, fit, make_datamodule, snapshot, write_image_tree


class StepWeights(Callback):
    """The model's weights after every optimizer step (before the EMA callback averages them)."""

    def __init__(self) -> None:
        self.weights: list[dict[str, torch.Tensor]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.weights.append(snapshot(pl_module))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = write_image_tree(tmp_path_factory.mktemp("ema"), {"train": {"a": 8, "b": 8}})
    return make_datamodule(root, val_split=0.25)  # 12 training images: 3 batches of 4


def test_the_average_is_the_hand_computed_one_with_the_warming_decay(tiny):
    model = classifier({"strategy": "full"})
    initial = snapshot(model)
    steps, ema = StepWeights(), EMAWeights(decay=0.6)
    fit(model, tiny, 2, [steps, ema], limit_val_batches=0)
    assert [ema.decay_after(n) for n in range(6)] == pytest.approx([0.1, 2 / 11, 0.25, 4 / 13, 5 / 14, 0.4])
    expected = {name: tensor.double() for name, tensor in initial.items() if tensor.is_floating_point()}
    for updates, weights in enumerate(steps.weights):
        decay = min(0.6, (1 + updates) / (10 + updates))
        for name in expected:
            expected[name] = decay * expected[name] + (1 - decay) * weights[name].double()
    final = model.state_dict()  # training ends with the average in the model
    assert len(steps.weights) == 6
    for name, tensor in expected.items():
        torch.testing.assert_close(final[name].double(), tensor, rtol=0, atol=1e-5, msg=name)
    assert not torch.equal(final["head.weight"], steps.weights[-1]["head.weight"])  # not simply the last weights


class KeepEpochZeroCheckpoint(Callback):
    """Copies last.ckpt when epoch 1 starts: the file a run stopped after epoch 0 would have left."""

    def __init__(self, directory, copy) -> None:
        self.directory, self.copy = directory, copy

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == 1:
            shutil.copy(self.directory / "last.ckpt", self.copy)


def test_checkpoints_hold_the_average_and_a_resumed_run_restores_it_exactly(tiny, tmp_path):
    def train(directory, ckpt_path=None, *extra):
        model, ema = classifier({"strategy": "full"}), EMAWeights(decay=0.9)
        # last.ckpt at every epoch's end, as conf/callbacks/default.yaml's last_checkpoint writes it
        checkpoint = ModelCheckpoint(dirpath=directory, filename="last", monitor=None, enable_version_counter=False)
        fit(model, tiny, 2, [checkpoint, ema, *extra], ckpt_path=ckpt_path, enable_checkpointing=True)
        return model, ema

    stopped = tmp_path / "after-epoch-0.ckpt"
    uninterrupted, ema = train(tmp_path / "whole", None, KeepEpochZeroCheckpoint(tmp_path / "whole", stopped))
    final = torch.load(tmp_path / "whole" / "last.ckpt", weights_only=True)
    average = {name[len("module.") :]: value for name, value in ema._average_model.state_dict().items()}
    assert all(torch.equal(final["state_dict"][name], average[name]) for name in final["state_dict"])
    assert not torch.equal(final["state_dict"]["head.weight"], final["current_model_state"]["head.weight"])
    resumed, _ = train(tmp_path / "resumed", str(stopped))
    for name, tensor in uninterrupted.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], tensor, rtol=0, atol=1e-6, msg=name)
