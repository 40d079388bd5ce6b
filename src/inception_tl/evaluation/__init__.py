"""Evaluation: metrics now; reports and plots build on them."""
