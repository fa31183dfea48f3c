"""The activation registry as a table: one module per family, one frozen Spec per activation.

Importing the package registers the families in teaching order: sigmoid-like, rectifiers, exponential-linear,
Gaussian-gated, hard, shrink. Adding an activation is one new Spec in one family's ENTRIES (README: "Adding an
activation").
"""
from .core import (FLAGS, KAIMING, TAILS, XAVIER, Activation, Init, Param, Spec, activation_names, activation_types,
                   get_activation, lookup, register, unregister)
from . import sigmoid_like, rectifiers, exponential_linear, gaussian_gated, hard, shrink  # noqa: E402,F401  registers
from .exponential_linear import SELU_ALPHA, SELU_SCALE

__all__ = ["Activation", "FLAGS", "Init", "KAIMING", "Param", "SELU_ALPHA", "SELU_SCALE", "Spec", "TAILS", "XAVIER",
           "activation_names", "activation_types", "get_activation", "lookup", "register", "unregister"]
