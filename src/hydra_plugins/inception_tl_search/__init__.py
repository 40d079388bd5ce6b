"""Hydra plugins of inception_tl (Hydra loads plugin classes from the `hydra_plugins` namespace only)."""
