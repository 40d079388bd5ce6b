"""95% bootstrap intervals for a split's headline metrics, from its stored predictions.

Percentile bootstrap: `RESAMPLES` resamples of the images with replacement (seeded), each metric computed on each,
the interval between the 2.5th and 97.5th percentiles. A resample is a count per image (how often it was drawn),
so every metric is a weighted sum over the images: all resamples at once, as matrix products and cumulative sums
on the device, instead of a Python loop re-running torchmetrics a thousand times.

Single-label: accuracy, macro F1, macro one-vs-rest AUROC (the binary AUROC for two classes). Multi-label: exact
match, macro F1 at the stored thresholds, macro AUROC and mAP. Macro averages skip a class a resample leaves
undefined (no image of it, or nothing to rank), as torchmetrics skips absent classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from inception_tl.evaluation.predictions import Predictions

RESAMPLES = 1000
LEVEL = 0.95
SEED = 0
INTERVAL_METHOD = f"{LEVEL:.0%} percentile bootstrap interval over the images, {RESAMPLES} resamples, seed {SEED}"


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def as_list(self) -> list[float]:
        return [self.low, self.high]


def resample_counts(n: int, resamples: int, seed: int, device: torch.device) -> torch.Tensor:
    """(resamples, n) float: how often each image is drawn in each resample (n draws with replacement)."""
    generator = torch.Generator(device=device).manual_seed(seed)
    drawn = torch.randint(0, n, (resamples, n), generator=generator, device=device)
    return torch.zeros(resamples, n, device=device).scatter_add_(1, drawn, torch.ones_like(drawn, dtype=torch.float))


def weighted_macro_f1(weights: torch.Tensor, predicted: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Macro F1 per resample from one-hot / multi-hot (n, K) predicted and true rows."""
    tp = weights @ (predicted * truth)
    fp = weights @ (predicted * (1 - truth))
    fn = weights @ ((1 - predicted) * truth)
    denominator = 2 * tp + fp + fn
    f1 = torch.where(denominator > 0, 2 * tp / denominator.clamp_min(1e-12), torch.nan)
    return f1.nanmean(dim=1)


def tie_groups(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(the order sorting `scores` ascending, each sorted score's tie group, the number of groups)."""
    order = torch.argsort(scores, stable=True)
    ordered = scores[order]
    group = torch.zeros_like(order)
    group[1:] = torch.cumsum((ordered[1:] != ordered[:-1]).long(), 0)
    return order, group, int(group[-1]) + 1


def group_sums(values: torch.Tensor, group: torch.Tensor, groups: int) -> torch.Tensor:
    """(resamples, groups) sums of sorted per-image values over each tie group (as they are without ties)."""
    if groups == values.shape[1]:
        return values
    return torch.zeros(values.shape[0], groups, device=values.device).index_add_(1, group, values)


def weighted_auroc(weights: torch.Tensor, scores: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """AUROC of one class per resample: the weighted Mann-Whitney statistic, a tie counted half."""
    order, group, groups = tie_groups(scores)
    sorted_weights, sorted_positive = weights[:, order], positive[order]
    positives = group_sums(sorted_weights * sorted_positive, group, groups)
    negatives = group_sums(sorted_weights * (1 - sorted_positive), group, groups)
    below = torch.cumsum(negatives, 1) - negatives
    pairs = positives.sum(1) * negatives.sum(1)
    wins = (positives * (below + 0.5 * negatives)).sum(1)
    return torch.where(pairs > 0, wins / pairs.clamp_min(1e-12), torch.nan)


def weighted_average_precision(weights: torch.Tensor, scores: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """Average precision of one label per resample, as torchmetrics computes it: the precision at each distinct
    score (ties as one threshold), weighted by the recall gained there."""
    order, group, groups = tie_groups(-scores)  # descending scores
    sorted_weights, sorted_positive = weights[:, order], positive[order]
    true_positives = group_sums(sorted_weights * sorted_positive, group, groups)
    false_positives = group_sums(sorted_weights * (1 - sorted_positive), group, groups)
    cumulative_tp, cumulative_fp = torch.cumsum(true_positives, 1), torch.cumsum(false_positives, 1)
    precision = cumulative_tp / (cumulative_tp + cumulative_fp).clamp_min(1e-12)
    total = true_positives.sum(1)
    return torch.where(total > 0, (true_positives * precision).sum(1) / total.clamp_min(1e-12), torch.nan)


def macro(
    metric: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    weights: torch.Tensor,
    scores: torch.Tensor,
    truth: torch.Tensor,
) -> torch.Tensor:
    """The mean over classes of a per-class metric, per resample."""
    per_class = torch.stack([metric(weights, scores[:, k], truth[:, k]) for k in range(scores.shape[1])], dim=1)
    return per_class.nanmean(dim=1)


def resampled_metrics(predictions: Predictions, weights: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each headline metric for each resample (rows of `weights`)."""
    device = weights.device
    scores = torch.as_tensor(predictions.probabilities, dtype=torch.float32, device=device)
    n, classes = scores.shape
    if predictions.multi_label:
        truth = torch.as_tensor(predictions.labels, dtype=torch.float32, device=device)
        predicted = torch.as_tensor(predictions.predicted, dtype=torch.float32, device=device)
        exact = (predicted == truth).all(dim=1).float()
        return {
            "acc": weights @ exact / n,
            "f1": weighted_macro_f1(weights, predicted, truth),
            "auroc": macro(weighted_auroc, weights, scores, truth),
            "map": macro(weighted_average_precision, weights, scores, truth),
        }
    labels = torch.as_tensor(predictions.labels, dtype=torch.long, device=device)
    truth = torch.nn.functional.one_hot(labels, classes).float()
    predicted = torch.nn.functional.one_hot(scores.argmax(1), classes).float()
    correct = (predicted * truth).sum(1)
    return {
        "acc": weights @ correct / n,
        "f1": weighted_macro_f1(weights, predicted, truth),
        "auroc": macro(weighted_auroc, weights, scores, truth),
    }


def bootstrap_intervals(
    predictions: Predictions,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
    device: torch.device | None = None,
) -> dict[str, Interval]:
    """The percentile interval of each headline metric, by name (`acc`, `f1`, `auroc`, and `map` for multi-label)."""
    if device is None:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if len(predictions.labels) == 0:
        return {}
    weights = resample_counts(len(predictions.labels), resamples, seed, device)
    tail = (1 - level) / 2
    intervals = {}
    for name, values in resampled_metrics(predictions, weights).items():
        found = values[~values.isnan()].double().cpu().numpy()
        if len(found):
            low, high = np.quantile(found, [tail, 1 - tail])
            intervals[name] = Interval(float(low), float(high))
    return intervals
