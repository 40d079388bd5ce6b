"""Temperature scaling: fitted on an overconfident model's predictions it is above 1 and lowers ECE and NLL;
the model applies it to every prediction, never to its training loss."""

import numpy as np
import pytest
import torch

from inception_tl.evaluation.calibration import negative_log_likelihood, rescaled
from inception_tl.evaluation.predictions import Predictions
from inception_tl.evaluation.report import reliability
from inception_tl.models.temperature import bound_warning, fit_temperature
from tests.helpers import classifier


def overconfident(count: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Softmax probabilities of logits that are right about 70% of the time but scaled up fivefold."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, count)
    logits = rng.normal(0, 1, (count, 3))
    logits[np.arange(count), labels] += 1.0
    probabilities = torch.softmax(torch.from_numpy(5 * logits), dim=1).numpy().astype(np.float32)
    return probabilities, labels


def ece(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return reliability(Predictions(probabilities, labels, [""] * len(labels), ["a", "b", "c"])).ece


def test_an_overconfident_model_gets_a_temperature_above_one_that_lowers_ece_and_nll():
    probabilities, labels = overconfident()
    temperature = fit_temperature(probabilities, labels)
    assert 3 < temperature < 8  # the logits were scaled by 5
    calibrated = rescaled(probabilities, temperature)
    assert negative_log_likelihood(calibrated, labels) < 0.8 * negative_log_likelihood(probabilities, labels)
    assert ece(calibrated, labels) < 0.5 * ece(probabilities, labels)
    assert (calibrated.argmax(1) == probabilities.argmax(1)).all()  # the same predicted classes
    # Held-out predictions of the same model improve too: the fit is not an artefact of the fitting set.
    held_out, held_labels = overconfident(seed=1)
    assert ece(rescaled(held_out, temperature), held_labels) < 0.5 * ece(held_out, held_labels)


def test_rescaling_by_the_inverse_undoes_a_calibration():
    probabilities, _ = overconfident(20)
    np.testing.assert_allclose(rescaled(rescaled(probabilities, 2.5), 1 / 2.5), probabilities, atol=1e-6)


def test_the_model_divides_its_logits_by_the_temperature_in_predictions_only():
    model = classifier({"strategy": "full"})
    images = torch.randn(2, 3, 75, 75)
    model.eval()
    with torch.no_grad():
        plain = model(images)
        model.set_temperature(2.0)
        torch.testing.assert_close(model(images), plain / 2)
        model.train()
        training = model(images)
        model.set_temperature(1.0)
        torch.testing.assert_close(model(images), training)  # training's own logits never see it
    assert model.hparams.temperature == 1.0


@pytest.mark.parametrize("value", [0.01, 100.0])
def test_the_temperature_stays_in_its_range(value):
    probabilities, labels = overconfident(50)
    temperature = fit_temperature(rescaled(probabilities, value), labels)
    assert 0.05 <= temperature <= 20


def test_a_fit_at_a_bound_is_said_with_what_it_means():
    """A model whose confidence says nothing (its mistakes as confident as its hits) drives T to the upper bound;
    one right on every image towards the lower one. Either is worth a word; a fit inside the range is not."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 60)
    chance = torch.softmax(torch.from_numpy(5 * rng.normal(0, 1, (60, 3))), dim=1).numpy()  # ignores the labels
    upper = fit_temperature(chance, labels)
    assert upper == pytest.approx(20, rel=1e-3)
    assert "upper bound (T = 20): on the 60 validation images" in bound_warning(upper, 60)
    assert "right on all 60 validation images" in bound_warning(0.05, 60)
    probabilities, labels = overconfident()
    assert bound_warning(fit_temperature(probabilities, labels), 600) is None
