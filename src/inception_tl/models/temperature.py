"""Temperature scaling (Guo et al., 2017): one number T, fitted on the validation split, divides the logits so
that the probabilities say how often the model is right. Argmax, hence accuracy, precision, recall and F1,
are unchanged; ECE and negative log-likelihood fall when the model was over- or under-confident. The
single-label objective's post-fit step (models/objectives.py); the report's measures are in
evaluation/calibration.py.

Fitted on the predictions the validation pass already made: softmax is unchanged by a constant added to the
logits, so log(p) / T gives the same probabilities as z / T.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# T is searched as exp(s) in this range: beyond it the probabilities are all but one-hot or uniform.
LIMITS = (0.05, 20.0)
# The smallest probability taken for log(p): float32 softmax rounds far smaller ones to exactly 0.
FLOOR = 1e-30


def log_probabilities(probabilities: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(probabilities, dtype=np.float64)).clamp_min(FLOOR).log()


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of `labels` (L-BFGS on log T)."""
    logp, targets = log_probabilities(probabilities), torch.from_numpy(np.asarray(labels)).long()
    scale = torch.zeros((), dtype=torch.float64, requires_grad=True)  # log T, starting at T = 1
    optimizer = torch.optim.LBFGS([scale], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logp / scale.clamp(*np.log(LIMITS)).exp(), targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(np.exp(np.clip(scale.item(), *np.log(LIMITS))))


def bound_warning(temperature: float, images: int) -> str | None:
    """What it means when the fit stops at a bound of LIMITS (None when it does not)."""
    if not np.isclose(temperature, LIMITS, rtol=1e-3).any():
        return None
    keep_raw = "calibration=none keeps the raw probabilities."
    if temperature > 1:
        return (
            f"The temperature fit stopped at its upper bound (T = {LIMITS[1]:g}): on the {images} validation images "
            "the model's confidence says nothing about whether it is right, so its calibrated probabilities are "
            "close to uniform. The model is near chance, or the validation split is too small to calibrate on: "
            f"train longer, or validate on more images (data.val_split); {keep_raw}"
        )
    return (
        f"The temperature fit stopped at its lower bound (T = {LIMITS[0]:g}): the model is right on all {images} "
        "validation images, so calibration sharpens its probabilities as far as allowed; a larger validation split "
        f"(data.val_split), with some mistakes in it, calibrates better; {keep_raw}"
    )
