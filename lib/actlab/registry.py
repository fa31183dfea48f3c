"""The former home of the registry: it now lives in actlab.activations (one module per family); old imports keep working."""
from .activations import (FLAGS, SELU_ALPHA, SELU_SCALE, TAILS, Activation, Init, Param, Spec,  # noqa: F401
                          activation_names, activation_types, get_activation, lookup, register, spec, unregister)
