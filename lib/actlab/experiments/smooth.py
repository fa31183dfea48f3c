"""Experiments of notebooks 06-08 (Leaky ReLU/PReLU/RReLU, ELU/SELU/CELU, GELU/Swish/Mish)."""
