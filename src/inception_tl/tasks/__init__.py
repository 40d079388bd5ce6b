"""The entry tasks (`train.py`, `eval.py`, `predict.py`, `export.py` call these); none imports another."""
