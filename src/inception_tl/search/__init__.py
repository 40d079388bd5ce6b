"""Hyperparameter search with Optuna, run by Hydra's multirun: `python train.py -m hparams_search=NAME`.

`space` turns the search config's `params` into Optuna distributions, `study` keeps the study in a SQLite
file in the sweep folder (so an interrupted search resumes) and writes the trial table and the best
command, and `pruning` reports each epoch's validation metric to the trial and stops the run when the
pruner says so. The Hydra plugin (`hydra_plugins.inception_tl_search`) ties them to Hydra's launchers.
"""
