"""The new classification head on top of the pooled backbone features."""

from __future__ import annotations

from torch import nn

from inception_tl.errors import ConfigError


def build_head(in_features: int, num_classes: int, *, kind: str, hidden: int, dropout: float) -> nn.Module:
    """`linear`, or `mlp`: Dense(hidden, relu) -> Dropout -> Dense(classes), the Keras recipe's head (the
    options and their defaults: `HeadSchema`)."""
    if kind == "linear":
        return nn.Linear(in_features, num_classes)
    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
    raise ConfigError(f"Unknown backbone.head.kind {kind!r}; choose 'linear' or 'mlp'.")
