"""actlab: the helper library of the activation-functions course."""
from .registry import Activation, Param, Spec, activation_names, get_activation, register, spec, unregister

__version__ = "0.1.0"
from .plot import curves, plot_activation, plot_compare
from .explore import Explorer, explore
