"""Transfer learning for the Inception family with timm, Lightning and Hydra."""

__version__ = "0.1.0"
