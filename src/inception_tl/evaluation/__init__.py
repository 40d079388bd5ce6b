"""Evaluation: metrics, every image's predictions from the evaluation pass, the report and its figures."""
