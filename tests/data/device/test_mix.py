"""Mixup and CutMix: timm's draws and rules from a seeded generator, the box where the draw says, soft targets
as timm's `mixup_target`, and the training step mixing from the step's seed."""

import numpy as np
import pytest
import torch
from timm.data.mixup import mixup_target

from inception_tl.data.device.mix import MixDraw, draw_mix, mix_batch
from inception_tl.data.options import MixOptions
from tests.helpers import classifier


def draws(options: MixOptions, count: int = 4000, seed: int = 0) -> list[MixDraw]:
    rng = np.random.default_rng(seed)
    return [draw_mix(rng, options, 60, 80) for _ in range(count)]


def test_the_draws_follow_prob_switch_prob_and_the_beta_distribution():
    both = draws(MixOptions(mixup_alpha=0.4, cutmix_alpha=1.0, prob=0.8, switch_prob=0.25))
    mixed = [draw for draw in both if draw.lam != 1.0]
    assert len(mixed) / len(both) == pytest.approx(0.8, abs=0.03)
    cut = [draw for draw in mixed if draw.box is not None]
    assert len(cut) / len(mixed) == pytest.approx(0.25, abs=0.03)
    lams = np.array([draw.lam for draw in mixed if draw.box is None])
    assert lams.min() < 0.01
    assert lams.max() > 0.99
    assert lams.mean() == pytest.approx(0.5, abs=0.03)
    assert all(draw.lam == 1.0 for draw in draws(MixOptions()))  # both alphas 0: never mixes


def test_cutmix_boxes_lie_in_the_image_and_lambda_is_their_complement():
    for draw in draws(MixOptions(cutmix_alpha=1.0), count=2000):
        y0, y1, x0, x1 = draw.box
        assert 0 <= y0 <= y1 <= 60
        assert 0 <= x0 <= x1 <= 80
        assert draw.lam == pytest.approx(1 - (y1 - y0) * (x1 - x0) / (60 * 80))
    assert draws(MixOptions(cutmix_alpha=1.0), 10, seed=3) == draws(MixOptions(cutmix_alpha=1.0), 10, seed=3)


def test_pixels_come_from_the_mirror_image_where_the_draw_says_and_targets_are_timms():
    images, labels = torch.rand(4, 3, 6, 8), torch.tensor([0, 2, 1, 1])
    mixed, targets = mix_batch(images, labels, MixDraw(0.7), 3)
    torch.testing.assert_close(mixed, 0.7 * images + 0.3 * images.flip(0))
    torch.testing.assert_close(targets, mixup_target(labels, 3, lam=0.7))
    cut, targets = mix_batch(images, labels, MixDraw(1 - 6 / 48, (1, 4, 2, 4)), 3)
    inside = torch.zeros(6, 8, dtype=torch.bool)
    inside[1:4, 2:4] = True
    assert torch.equal(cut[:, :, inside], images.flip(0)[:, :, inside])
    assert torch.equal(cut[:, :, ~inside], images[:, :, ~inside])
    torch.testing.assert_close(targets, mixup_target(labels, 3, lam=1 - 6 / 48))
    assert torch.allclose(targets.sum(1), torch.ones(4))


def test_the_training_step_mixes_from_the_steps_seed_with_soft_targets():
    model = classifier({"strategy": "full"}, head={"kind": "linear"})
    model.mix = MixOptions(mixup_alpha=0.4)
    seen = {}
    model._loss = lambda logits, targets: seen.setdefault("targets", targets).sum() * 0 + logits.sum()
    model.log = lambda *args, **kwargs: None
    images, labels = torch.rand(4, 3, 75, 75), torch.tensor([0, 1, 1, 0])
    torch.manual_seed(1234)  # what StepSeed does before every training batch
    model.training_step((images, labels, torch.arange(4)), 0)
    draw = draw_mix(np.random.default_rng(1234), model.mix, 75, 75)
    assert 0 < draw.lam < 1
    torch.testing.assert_close(seen["targets"], mix_batch(images, labels, draw, 2)[1])
