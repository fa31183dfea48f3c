"""Experiments of notebooks 00-03 (non-linearity, sigmoid, vanishing gradients, tanh)."""
