"""Experiments of notebooks 09-11 (comparison, PyTorch zoo, custom activations)."""
