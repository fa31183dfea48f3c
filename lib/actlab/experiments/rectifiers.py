"""Experiments of notebooks 04-05 (ReLU, dying ReLU)."""
