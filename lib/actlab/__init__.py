"""actlab: the helper library of the activation-functions course."""
__version__ = "0.1.0"

from .activations import (Activation, Param, Spec, activation_names, get_activation, lookup, register, spec,
                          unregister)
from .plot import curves, plot_activation, plot_compare, plot_gallery, plot_images, plot_softmax, registry_table
from .explore import Explorer, SliderPlot, explore, slider_plot
from .data import DataError, Dataset, cifar_like, image_data, load_cifar10, toy_2d
from .models import LeNet, MLP, activation_modules, per_channel_prelu, recommended_init, swap_activation
from .training import Callback, History, TrainConfig, accuracy, evaluate, pick_device, train
from .compare import Comparison, compare
from .diagnostics import (DeadUnitMonitor, GradNormMonitor, capture_activations, dead_masks, dead_units,
                          distance_from_init, grad_norms, init_grad_profiles, plot_grad_norms, plot_layer_profile,
                          snapshot_weights)
from .demos import (born_dead_fraction, collapse_linear, normal_mean, plot_decision_regions, same_sign_updates,
                    signal_through_depth, steps_to_reach, time_activations)
from .custom import check_gradient, custom_activation, infer_properties
from .evidence import (ClaimFailed, Verdict, claim_close, claim_greater, claim_in_seeds, claim_less, describe,
                       full_run, over_seeds)
from .playground import Playground, playground
from .stats import (LayerStatsMonitor, activation_stats, init_gradients, layer_stats, plot_activation_histograms,
                    plot_colorful_dimension, plot_gradient_histograms, plot_update_ratios, update_ratios)
from .style import integer_ticks, presentation, readable_columns
