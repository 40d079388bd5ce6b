"""How well calibrated a split's probabilities are, for the report: the negative log-likelihood, and the
probabilities at another temperature (to show them before temperature scaling). The fit itself is
models/temperature.py.
"""

from __future__ import annotations

import numpy as np
import torch

from inception_tl.models.temperature import FLOOR, log_probabilities


def rescaled(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log(p) / temperature): the probabilities at another temperature (1 / T undoes a calibration)."""
    return torch.softmax(log_probabilities(probabilities) / temperature, dim=1).numpy().astype(np.float32)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log p(true class), the loss temperature scaling minimises."""
    chosen = np.asarray(probabilities, dtype=np.float64)[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(chosen, FLOOR, None)).mean())


