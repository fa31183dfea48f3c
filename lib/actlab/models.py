"""Models built from registry activations: the slides' LeNet, a configurable MLP, and activation swapping."""
from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

from .checks import check_choice, check_number
from .activations import activation_types, get_activation, lookup
from .hooks import Hooks, replace_module
from .model_utils import model_device, preserved_state

# The library's one table of initialisation names (MLP, LeNet and the playground read it; init_linear applies them).
# "recommended": the scheme the activation's registry entry pairs with it (recommended_init); "default": PyTorch's own.
INITS = ("default", "recommended", "kaiming", "xavier", "lecun", "orthogonal", "small", "large")


def _name_of(activation, params) -> str:
    """A readable name for the activation used in a model."""
    if isinstance(activation, str):
        return lookup(activation).label(**(params or {}))
    return getattr(activation, "__name__", type(activation).__name__)


class LeNet(nn.Module):
    """The slides' CNN: conv 3-6-5, pool, conv 6-16-5, pool, fc 120, 84, 10, with any activation.

    Input (N, 3, 32, 32); output logits (N, num_classes). init: one of INITS for every conv and linear layer
    ('default': PyTorch's own; 'recommended': the activation's registry scheme, the output layer Xavier).
    """

    def __init__(self, activation="relu", params: dict | None = None, num_classes: int = 10, init: str = "default"):
        super().__init__()
        resolve_init(init, activation)  # a bad init fails before anything is built
        self.activation_name = _name_of(activation, params)
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.act1 = get_activation(activation, **(params or {}))
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.act2 = get_activation(activation, **(params or {}))
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.act3 = get_activation(activation, **(params or {}))
        self.fc2 = nn.Linear(120, 84)
        self.act4 = get_activation(activation, **(params or {}))
        self.fc3 = nn.Linear(84, num_classes)
        for layer in (self.conv1, self.conv2, self.fc1, self.fc2):
            init_linear(layer, init, activation, params)
        init_linear(self.fc3, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act1(self.conv1(x)))
        x = self.pool(self.act2(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = self.act3(self.fc1(x))
        x = self.act4(self.fc2(x))
        return self.fc3(x)


def recommended_init(activation: str) -> str:
    """The initialisation scheme paired with an activation (its registry entry's init field, which cites the source).

    Kaiming (He et al. 2015) for the ReLU family, ELU and CELU; LeCun for SELU (Klambauer et al. 2017); Xavier
    (Glorot and Bengio 2010) for sigmoid, tanh, the smooth gated ones and the rest.
    """
    return lookup(activation).init.scheme


def kaiming_gain(activation=None, params: dict | None = None) -> float:
    """The gain of Kaiming initialisation before an activation (a registry name and its parameters): the library's
    one gain rule, used by init_linear's 'kaiming' and 'orthogonal' (MLP, LeNet and the playground alike).

    The entry's own Init.gain where it recommends Kaiming: sqrt 2 for 'relu', sqrt(2 / (1 + a^2)) for the leaky
    family at its negative slope a (He et al. 2015, eq. 15; torch.nn.init.calculate_gain). He's derivation is for
    rectifiers, so before any other activation (or none, or a factory) Kaiming means ReLU's sqrt 2, as usual.
    """
    if isinstance(activation, str):
        entry = lookup(activation)
        if entry.init.scheme == "kaiming":
            return entry.init.gain(**entry.resolve(**(params or {})))
    return nn.init.calculate_gain("relu")


def resolve_init(init: str, activation=None) -> str:
    """The concrete scheme an init name means before activation: 'recommended' becomes the registry's scheme for a
    registry name (recommended_init), or 'xavier' before no activation (an output layer; Glorot and Bengio 2010).
    Raises ValueError for an unknown init, or 'recommended' before an activation the registry does not know."""
    check_choice("init", init, INITS)
    if init != "recommended":
        return init
    if activation is None:
        return "xavier"
    if not isinstance(activation, str):
        raise ValueError(f"init='recommended' needs a registry activation name, got {activation!r}: name a scheme "
                         f"({', '.join(i for i in INITS if i != 'recommended')})")
    return recommended_init(activation)


def init_linear(layer: nn.Linear | nn.Conv2d, init: str, activation=None, params: dict | None = None) -> None:
    """Initialise a linear or convolutional layer's weight by a named scheme (one of INITS); biases start at zero
    (except 'default').

    fan_in = in_features (linear) or in_channels * kernel height * kernel width (conv), as torch.nn.init counts it.
    kaiming: N(0, gain^2 / fan_in) with the gain kaiming_gain(activation, params) of the activation that follows
    the layer (as torch.nn.init.kaiming_normal_ draws it); xavier: N(0, 2 / (fan_in + fan_out)) with gain 1
    (Glorot and Bengio 2010; torch.nn.init.xavier_normal_); lecun: N(0, 1 / fan_in); orthogonal: a (semi-)orthogonal
    matrix (Saxe et al. 2014; torch.nn.init.orthogonal_) times the same gain as kaiming; small: N(0, 0.01^2); large:
    N(0, 16 / fan_in); recommended: resolve_init's scheme. Raises ValueError naming the known schemes for any other
    init.
    """
    init = resolve_init(init, activation)
    if init == "default":
        return
    fan_in = layer.weight[0].numel()
    with torch.no_grad():
        if init == "kaiming":
            layer.weight.normal_(0, kaiming_gain(activation, params) / math.sqrt(fan_in))
        elif init == "xavier":
            nn.init.xavier_normal_(layer.weight)
        elif init == "lecun":
            layer.weight.normal_(0, 1 / math.sqrt(fan_in))
        elif init == "orthogonal":
            nn.init.orthogonal_(layer.weight, kaiming_gain(activation, params))
        elif init == "small":
            layer.weight.normal_(0, 0.01)
        elif init == "large":
            layer.weight.normal_(0, 4 / math.sqrt(fan_in))
        if layer.bias is not None:
            layer.bias.zero_()


class MLP(nn.Module):
    """depth hidden layers of width units, each followed by the activation; a linear output layer."""

    def __init__(self, depth: int = 4, width: int = 64, activation="relu", params: dict | None = None,
                 in_features: int = 2, out_features: int = 2, init: str = "default", batch_norm: bool = False):
        super().__init__()
        for name, value in (("depth", depth), ("width", width), ("in_features", in_features),
                            ("out_features", out_features)):
            check_number(name, value, 1, integer=True)
        resolve_init(init, activation)
        self.activation_name = _name_of(activation, params)
        layers: dict[str, nn.Module] = {"flatten": nn.Flatten()}
        features = in_features
        for i in range(1, depth + 1):
            layers[f"linear{i}"] = nn.Linear(features, width)
            init_linear(layers[f"linear{i}"], init, activation, params)
            if batch_norm:
                layers[f"norm{i}"] = nn.BatchNorm1d(width)
            layers[f"act{i}"] = get_activation(activation, **(params or {}))
            features = width
        self.hidden = nn.Sequential(OrderedDict(layers))
        self.out = nn.Linear(features, out_features)
        init_linear(self.out, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(x))

    def hidden_outputs(self, x: torch.Tensor):
        """Yield (layer number, output) after each hidden activation, input side first (lazily); x is moved to the
        model's device."""
        x = x.to(self.out.weight.device)
        for name, module in self.hidden.named_children():
            x = module(x)
            if name.startswith("act"):
                yield int(name[3:]), x

    def linear_layers(self) -> list[nn.Linear]:
        """The hidden linear layers, input first, then the output layer."""
        return [m for m in self.hidden if isinstance(m, nn.Linear)] + [self.out]


def activation_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(qualified name, module) of every activation in the model, in forward order of registration."""
    types = activation_types()
    return [(name, m) for name, m in model.named_modules() if isinstance(m, types)]


def swap_activation(model: nn.Module, name: str, **params) -> nn.Module:
    """Replace every activation module in model (in place) with a fresh one of the named kind; returns model.

    A module used at several places (one ReLU called twice) is replaced everywhere by one new module. Raises
    ValueError when the model has no activation modules or is itself one (it cannot replace itself).
    """
    found = {id(m) for _, m in activation_modules(model)}
    if not found:
        raise ValueError("swap_activation: the model has no activation modules to swap")
    device = model_device(model)
    fresh: dict[int, nn.Module] = {}
    for qualified, old in list(model.named_modules(remove_duplicate=False)):
        if id(old) in found:
            if id(old) not in fresh:
                fresh[id(old)] = get_activation(name, **params).to(device)
            replace_module(model, qualified, fresh[id(old)])
    if hasattr(model, "activation_name"):
        model.activation_name = lookup(name).label(**params)
    return model


def per_channel_prelu(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """Replace each single-alpha PReLU in model (in place) by one with an alpha per channel, keeping its value.

    example (a batch of inputs, channels in dim 1) is run once to learn each PReLU's channel count; PReLUs that
    already have an alpha per channel (a model this function converted before: calling it again, as a re-run
    notebook cell does, changes nothing), that see one channel, or that the example never reaches, are kept. Apart
    from the replaced modules the model is left as found (BatchNorm statistics, modes, gradients); example is moved
    to the model's device. Raises ValueError when the model has no PReLU at all.
    """
    if not any(isinstance(m, nn.PReLU) for m in model.modules()):
        raise ValueError("per_channel_prelu: the model has no PReLU to give an alpha per channel")
    prelus = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.PReLU) and m.weight.numel() == 1]
    if not prelus:
        return model  # every PReLU has its alphas per channel already
    channels = {}

    def record(name, module, args):
        channels[name] = args[0].shape[1] if args[0].dim() > 1 else 1

    with torch.no_grad(), preserved_state(model), Hooks(prelus, pre=record):
        model(example.to(model_device(model)))
    for name, module in prelus:
        if channels.get(name, 1) > 1:
            replace_module(model, name, _prelu_per_channel(module, channels[name]))
    return model


def _prelu_per_channel(module: nn.PReLU, channels: int) -> nn.PReLU:
    """A PReLU with `channels` alphas, each the single alpha of module, on its device and dtype and in its mode."""
    weight = module.weight.detach()
    replacement = nn.PReLU(channels, init=weight.item()).to(weight.device, weight.dtype)
    return replacement.train(module.training)
