"""actlab: the helper library of the activation-functions course.

The public API is `__all__`, grouped by topic below, and the module `actlab.vocabulary` (the course's definitions of
dead, near-dead, saturated and vanishing). Importing actlab applies the course's matplotlib style and
changes nothing else: a notebook calls `actlab.setup_notebook()` to display returned figures as PNG.
"""
from .fingerprint import package_version as _package_version

__version__ = _package_version()  # from the installed package's metadata; "0+unknown" when not installed

from .activations import Activation, Param, Spec, activation_names, get_activation, lookup, register, unregister
from .custom import check_gradient, custom_activation, gaussian_mean, infer_properties
from .data import DataError, Dataset, cifar_like, digits, image_data, load_cifar10, toy_2d, validation_split
from .models import LeNet, MLP, activation_modules, per_channel_prelu, recommended_init, swap_activation
from .model_utils import accuracy, evaluate
from .training import Callback, History, TrainConfig, pick_device, train
from .compare import Comparison, compare
from .tuning import LR_GRID, Tuning, tune_lr
from .parallel import map_runs
from .diagnostics import (DeadUnitMonitor, GradNormMonitor, capture_activations, dead_masks, dead_units,
                          distance_from_init, grad_norms, init_grad_profiles, plot_grad_norms, plot_layer_profile,
                          snapshot_weights)
from .stats import (LayerStatsMonitor, activation_stats, init_gradients, layer_stats, plot_activation_histograms,
                    plot_colorful_dimension, plot_gradient_histograms, plot_update_ratios, update_ratios)
from .evidence import (ClaimFailed, ClaimFamily, Verdict, claim_close, claim_greater, claim_in_seeds, claim_less,
                       describe, full_run, holm, over_seeds)
from . import vocabulary  # the course's one vocabulary (dead, near-dead, saturated, vanishing): actlab.vocabulary.*
from .playground import Playground, playground
from .plot import curves, plot_activation, plot_compare, plot_gallery, plot_images, plot_softmax, registry_table
from .explore import Explorer, SliderPlot, explore, slider_plot
from .style import integer_ticks, presentation, readable_columns, setup_notebook

__all__ = [
    # activations: the registry (look up, build, register) and your own activations
    "Activation", "Param", "Spec", "activation_names", "get_activation", "lookup", "register", "unregister",
    "check_gradient", "custom_activation", "gaussian_mean", "infer_properties",
    # data: the procedural CIFAR-like set, real CIFAR-10, 2-D toy sets
    "DataError", "Dataset", "cifar_like", "digits", "image_data", "load_cifar10", "toy_2d", "validation_split",
    # models: networks built from an activation name, and their activation modules
    "LeNet", "MLP", "activation_modules", "per_channel_prelu", "recommended_init", "swap_activation",
    # training: the seeded, cached training loop and its callbacks
    "Callback", "History", "TrainConfig", "accuracy", "evaluate", "pick_device", "train",
    # comparison: several activations trained on the same data and seeds (timed: actlab.experiments.timing)
    "Comparison", "compare", "map_runs", "LR_GRID", "Tuning", "tune_lr",
    # diagnostics: dead units, gradient norms, captured activations
    "DeadUnitMonitor", "GradNormMonitor", "capture_activations", "dead_masks", "dead_units", "distance_from_init",
    "grad_norms", "init_grad_profiles", "plot_grad_norms", "plot_layer_profile", "snapshot_weights",
    # statistics: per-layer activation and gradient statistics, update ratios
    "LayerStatsMonitor", "activation_stats", "init_gradients", "layer_stats", "plot_activation_histograms",
    "plot_colorful_dimension", "plot_gradient_histograms", "plot_update_ratios", "update_ratios",
    # evidence: claims decided over seeds with Student's t at a stated level, families of claims by Holm's method
    "ClaimFailed", "ClaimFamily", "Verdict", "claim_close", "claim_greater", "claim_in_seeds", "claim_less", "describe",
    "full_run", "holm", "over_seeds",
    # playground: the in-notebook training playground
    "Playground", "playground",
    # plotting and style: static figures, interactive explorers, the course's look and notebook display
    "curves", "plot_activation", "plot_compare", "plot_gallery", "plot_images", "plot_softmax", "registry_table",
    "Explorer", "SliderPlot", "explore", "slider_plot",
    "integer_ticks", "presentation", "readable_columns", "setup_notebook",
]
