"""EMA weights: the average is what a hand computation over the steps gives, and the checkpoints hold it. (Exact
resume with EMA: finetune/test_resume.py; eval.py from an EMA checkpoint: evaluation/test_one_pass.py.)"""

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from inception_tl.training.callbacks import EMAWeights, EvaluationCheckpoint
from inception_tl.training.checkpoints import EVALUATION_KEYS
from tests.helpers import classifier, fit, make_datamodule, snapshot, write_image_tree


class StepWeights(Callback):
    """The model's weights after every optimizer step (before the EMA callback averages them)."""

    def __init__(self) -> None:
        self.weights: list[dict[str, torch.Tensor]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.weights.append(snapshot(pl_module))


@pytest.fixture(scope="module")
def tiny(shared_tmp):
    root = write_image_tree(shared_tmp("ema"), {"train": {"a": 8, "b": 8}})
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


def test_checkpoints_hold_the_average_and_best_ckpt_nothing_else(tiny, tmp_path):
    """last.ckpt: the average as its state_dict, the trained weights beside it (a resumed run restores both
    exactly: finetune/test_resume.py runs with EMA on). best.ckpt (EvaluationCheckpoint), written at every
    improving epoch: the average that won validation, without the resume state (Lightning's save_weights_only
    would have saved the trained weights instead)."""
    model, ema = classifier({"strategy": "full"}), EMAWeights(decay=0.9)
    # save_last's last.ckpt, the same callback's, keeps everything for resuming.
    best = EvaluationCheckpoint(dirpath=tmp_path, filename="best", monitor="val/loss", save_last=True)
    fit(model, tiny, 1, [best, ema], enable_checkpointing=True)
    average = {name[len("module.") :]: value for name, value in ema._average_model.state_dict().items()}
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert all(torch.equal(last["state_dict"][name], average[name]) for name in last["state_dict"])
    assert not torch.equal(last["state_dict"]["head.weight"], last["current_model_state"]["head.weight"])
    assert "optimizer_states" in last
    saved = torch.load(tmp_path / "best.ckpt", weights_only=True)  # the same epoch's
    assert set(saved) == set(EVALUATION_KEYS)
    assert all(torch.equal(saved["state_dict"][name], average[name]) for name in saved["state_dict"])
    assert (tmp_path / "best.ckpt").stat().st_size < (tmp_path / "last.ckpt").stat().st_size / 2
