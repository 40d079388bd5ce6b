"""Models: the timm backbone, the new head and the LightningModule that trains them."""

from inception_tl.models.classifier import ImageClassifier

__all__ = ["ImageClassifier"]
