"""The public API and the library's layering: __all__ is the API, the core never imports the notebooks'
experiments, no module uses another's private names, importing changes no IPython state, and library functions
leave torch's global random state as they found it."""
import ast
import json
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
import torch

import actlab

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lib" / "actlab"
NOT_CORE = {"actlab", "actlab.bench"}  # the facade, the benchmark script
NOTEBOOK_ONLY = ("actlab.experiments",)


def module_name(path: Path) -> str:
    """Dotted module name of a file under lib/: lib/actlab/experiments/smooth.py -> actlab.experiments.smooth."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def package_of(name: str) -> str:
    """The package a module's relative imports start from (a package's __init__ is its own)."""
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]


def resolve(node: ast.ImportFrom, package: str) -> str:
    """The absolute module of `from ... import`: `from ..data import x` in actlab.experiments -> actlab.data."""
    if not node.level:
        return node.module
    parts = package.split(".")[:len(package.split(".")) - node.level + 1]
    return ".".join(parts + ([node.module] if node.module else []))


def imports(source: str, package: str) -> list[tuple[str, str | None, int]]:
    """(module, imported name or None, line) for each import statement of source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found += [(resolve(node, package), alias.name, node.lineno) for alias in node.names]
    return found


def private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def private_uses(source: str, own: str, package: str) -> list[str]:
    """Private names (one leading underscore) of other actlab modules that source reaches, by import
    (`from actlab.data import _generate`) or by attribute (`plot._style` after `from . import plot`)."""
    tree, bound, found = ast.parse(source), {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "actlab":
                    bound[alias.asname or "actlab"] = alias.name if alias.asname else "actlab"
        elif isinstance(node, ast.ImportFrom):
            module = resolve(node, package)
            if not module.startswith("actlab") or module == own:
                continue
            for alias in node.names:
                if f"{module}.{alias.name}" in MODULES:
                    bound[alias.asname or alias.name] = f"{module}.{alias.name}"
                elif private(alias.name):
                    found.append(f"from {module} import {alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr):
            chain, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                chain.insert(0, value.attr)
                value = value.value
            if isinstance(value, ast.Name) and bound.get(value.id, own) != own:
                found.append(".".join([bound[value.id], *chain]))
    return found


def facade_imports(source: str, package: str) -> list[str]:
    """Names source imports from the package's facade, actlab/__init__.py (`from . import __version__`), other than
    submodules (`from . import vocabulary` is a module): the facade imports every module, so such an import runs
    backwards."""
    return [f"{module}.{name}" for module, name, _ in imports(source, package)
            if module == "actlab" and name is not None and f"actlab.{name}" not in MODULES]


def imported_modules(source: str, package: str) -> set[str]:
    """The actlab modules source imports by name (`from . import vocabulary` names actlab.vocabulary; a package
    imported is its __init__; the parents Python imports on the way are not counted)."""
    found = set()
    for module, imported, _ in imports(source, package):
        full = f"{module}.{imported}" if imported and f"{module}.{imported}" in MODULES else module
        if full in MODULES:
            found.add(full)
    return found


def reachable(name: str) -> dict[str, str]:
    """Every actlab module that module name imports, directly or through others: {module: the module importing it}."""
    parents, todo = {}, [name]
    while todo:
        current = todo.pop()
        for module in imported_modules(MODULES[current].read_text(), package_of(current)) - {name, *parents}:
            parents[module] = current
            todo.append(module)
    return parents


def notebook_code(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


# ---------------------------------------------------------------------------------------------------------------
# __all__
# ---------------------------------------------------------------------------------------------------------------

def test_star_import_gives_exactly_all_and_all_lists_every_public_name():
    namespace = {}
    exec("from actlab import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(actlab.__all__)
    assert len(actlab.__all__) == len(set(actlab.__all__)), "a name listed twice"
    public = {k for k, v in vars(actlab).items() if not k.startswith("_") and not isinstance(v, types.ModuleType)}
    assert public == set(actlab.__all__), f"public but not in __all__: {public - set(actlab.__all__)}"


@pytest.mark.parametrize("name", actlab.__all__)
def test_every_public_name_has_its_own_docstring(name):
    doc = getattr(actlab, name).__doc__
    assert doc and doc.strip(), f"actlab.{name} has no docstring"
    assert not doc.startswith(f"{name}("), f"actlab.{name}: only the signature dataclass writes, no docstring"


def test_notebooks_use_only_the_public_api():
    """A notebook reaches actlab through actlab.<name in __all__>, actlab.experiments or actlab.vocabulary, never a
    module's insides (actlab.diagnostics.inputs_of was one)."""
    allowed = set(actlab.__all__) | {"experiments", "vocabulary"}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for source in notebook_code(path):
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "actlab":
                    assert node.attr in allowed, f"{path.name}: actlab.{node.attr} is not public"
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("actlab."):
                    assert node.module.startswith("actlab.experiments"), f"{path.name}: from {node.module} import"


# ---------------------------------------------------------------------------------------------------------------
# Layering
# ---------------------------------------------------------------------------------------------------------------

def test_the_checks_below_find_what_they_forbid():
    """A core module importing the experiments, by any spelling, and a private name reached either way."""
    source = "from .experiments.smooth import normal_mean\nfrom . import experiments\nimport actlab.experiments.smooth\n"
    assert [(m, n) for m, n, _ in imports(source, "actlab")] == [
        ("actlab.experiments.smooth", "normal_mean"), ("actlab", "experiments"), ("actlab.experiments.smooth", None)]
    assert [(m, n) for m, n, _ in imports("from ..data import x", "actlab.experiments")] == [("actlab.data", "x")]
    source = "from actlab.data import _generate\nfrom . import plot\nplot._style(ax, '')\nself._cache = 1\n"
    assert private_uses(source, "actlab.explore", "actlab") == ["from actlab.data import _generate",
                                                                "actlab.plot._style"]
    assert private_uses("def _own(): pass\n_own()\n", "actlab.plot", "actlab") == []
    source = "from .training import model_device\nfrom . import vocabulary\nimport torch\n"
    assert imported_modules(source, "actlab") == {"actlab.training", "actlab.vocabulary"}
    source = "from . import __version__\nfrom . import vocabulary\nfrom actlab import lookup\n"
    assert facade_imports(source, "actlab") == ["actlab.__version__", "actlab.lookup"]


@pytest.mark.parametrize("name", [m for m in MODULES if m not in NOT_CORE and not m.startswith(NOTEBOOK_ONLY)])
def test_core_modules_never_import_the_notebook_experiments(name):
    for module, imported, line in imports(MODULES[name].read_text(), package_of(name)):
        full = f"{module}.{imported}" if imported else module
        assert not full.startswith(NOTEBOOK_ONLY), f"{name} line {line} imports {full}"


@pytest.mark.parametrize("low, high", [("actlab.models", "actlab.training"), ("actlab.model_utils", "actlab.models"),
                                       ("actlab.model_utils", "actlab.training")])
def test_models_sit_below_training_and_model_utils_below_both(low, high):
    """models builds networks, training trains them: models (and the model utilities both use) never import
    training, directly or through another module (model_device and friends moved to model_utils, issue #21)."""
    parents = reachable(low)
    chain = [high]
    while chain[-1] in parents:
        chain.append(parents[chain[-1]])
    assert high not in parents, f"{low} reaches {high}: {' <- '.join(chain)}"


@pytest.mark.parametrize("name", [m for m in MODULES if m not in NOT_CORE])
def test_no_module_imports_from_the_package_facade(name):
    """cache.py once took __version__ from actlab/__init__.py, which imports cache (issue #21): a module takes
    what it needs from the module that defines it."""
    assert facade_imports(MODULES[name].read_text(), package_of(name)) == []


@pytest.mark.parametrize("name", list(MODULES))
def test_no_module_uses_another_modules_private_names(name):
    assert private_uses(MODULES[name].read_text(), name, package_of(name)) == []


# ---------------------------------------------------------------------------------------------------------------
# No hidden state: IPython's formatters, torch's global generator
# ---------------------------------------------------------------------------------------------------------------

def test_importing_actlab_leaves_ipython_alone_and_setup_notebook_shows_figures_as_png():
    """In a fresh interpreter with an IPython shell: the image/png formatter is the same before and after
    `import actlab`; a bare Figure then formats as text only, and as PNG after actlab.setup_notebook()."""
    script = textwrap.dedent("""
        from IPython.core.interactiveshell import InteractiveShell
        from matplotlib.figure import Figure
        shell = InteractiveShell.instance()
        png = shell.display_formatter.formatters["image/png"]
        before = (dict(png.type_printers), dict(png.deferred_printers))
        import actlab
        assert (dict(png.type_printers), dict(png.deferred_printers)) == before, "import changed the formatters"
        fig = Figure()
        fig.subplots().plot([0, 1])
        data, _ = shell.display_formatter.format(fig)
        assert "image/png" not in data, sorted(data)
        assert actlab.setup_notebook() is True
        data, _ = shell.display_formatter.format(fig)
        assert data["image/png"][:8] == b"\\x89PNG\\r\\n\\x1a\\n" and "image/svg+xml" not in data
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_notebook_installs_the_png_display_in_its_import_cell(path):
    """The first cell that imports actlab calls actlab.setup_notebook(): the figures below it display."""
    import_cell = next(s for s in notebook_code(path) if re.search(r"^import actlab$", s, re.M))
    calls = [node for node in ast.walk(ast.parse(import_cell)) if isinstance(node, ast.Call)
             and ast.unparse(node.func) == "actlab.setup_notebook"]
    assert calls, f"{path.name}: the import cell does not call actlab.setup_notebook()"


def test_setup_notebook_outside_ipython_does_nothing():
    assert actlab.setup_notebook() is False


BARE_SEEDING = {"manual_seed", "manual_seed_all", "seed", "fork_rng"}
# Files that still seed torch's global generator by hand (none since issue #21's split of the playground and the
# reproductions; a file listed here is a strict xfail, so the list cannot outlive its reason).
SEEDING_EXCEPTIONS: set[str] = set()


def bare_seeding(source: str) -> list[str]:
    """Calls in source (and in code held in its strings, such as a worker script) that seed or fork torch's global
    generator by hand (torch.manual_seed, torch.random.fork_rng, torch.default_generator.manual_seed, a bare
    fork_rng()); an owned generator's seed (torch.Generator().manual_seed(s), gen.manual_seed(s)) is fine."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "torch" in node.value:
            try:
                found += bare_seeding(node.value)
            except SyntaxError:  # prose
                pass
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
            name, value = ast.unparse(node.func), node.func
            while isinstance(value, ast.Attribute):
                value = value.value
            root = value.id if isinstance(value, ast.Name) else None
            if name.rpartition(".")[2] in BARE_SEEDING and (root == "torch" or isinstance(node.func, ast.Name)):
                found.append(name)
    return found


def test_the_seeding_scan_finds_what_it_forbids():
    source = ("torch.manual_seed(0)\nwith torch.random.fork_rng(devices=[]):\n    pass\nfork_rng()\n"
              "torch.default_generator.manual_seed(1)\ngen = torch.Generator().manual_seed(2)\ngen.manual_seed(3)\n"
              "WORKER = 'import torch\\ntorch.cuda.manual_seed_all(4)\\n'\n")
    assert sorted(bare_seeding(source)) == sorted(["torch.manual_seed", "torch.random.fork_rng", "fork_rng",
                                                   "torch.default_generator.manual_seed", "torch.cuda.manual_seed_all"])


@pytest.mark.parametrize("name", [pytest.param(m, marks=pytest.mark.xfail(reason="issue #21: being split", strict=True))
                                  if m in SEEDING_EXCEPTIONS else m for m in MODULES if m != "actlab.seeding"])
def test_one_seeding_idiom_seeded(name):
    """Library code seeds torch's global generator only through seeding.seeded, which restores the caller's state
    (issue #21 found three idioms: seeded, bare fork_rng, bare manual_seed). Strict xfail for the exceptions: a file
    that no longer needs its place on the list fails until it is taken off."""
    assert bare_seeding(MODULES[name].read_text()) == []


def test_seeded_on_the_cpu_only_draws_as_seeded_and_restores_the_caller():
    """seeded(s, cpu_only=True) gives the CPU draws of seeded(s), restores the caller's state and starts no CUDA."""
    from actlab.seeding import seeded

    torch.manual_seed(5)
    before, cuda_before = torch.random.get_rng_state(), torch.cuda.is_initialized()
    with seeded(3, cpu_only=True):
        cpu_only = torch.rand(4)
    assert torch.equal(torch.random.get_rng_state(), before) and torch.cuda.is_initialized() == cuda_before
    with seeded(3):
        everywhere = torch.rand(4)
    assert torch.equal(cpu_only, everywhere) and not torch.equal(cpu_only, torch.rand(4))


def test_seeded_on_the_cpu_only_queues_no_cuda_seed(monkeypatch):
    """torch.manual_seed also seeds (or queues a seed for) every CUDA device; cpu_only must not, seeded must."""
    from actlab.seeding import seeded

    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: calls.append(seed))
    with seeded(3, cpu_only=True):
        torch.rand(1)
    assert calls == []
    with seeded(4):
        torch.rand(1)
    assert calls == [4]


def fixed_linear(n_in: int, n_out: int) -> torch.nn.Linear:
    """A Linear layer with weights from its own generator (the global one untouched)."""
    layer = torch.nn.utils.skip_init(torch.nn.Linear, n_in, n_out)
    gen = torch.Generator().manual_seed(n_in * 100 + n_out)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(n_out, n_in, generator=gen))
        layer.bias.copy_(torch.randn(n_out, generator=gen))
    return layer


def _calls():
    """(name, zero-argument call) of library functions that draw random numbers: small sizes, same seed."""
    from actlab.experiments import basics, comparison, mean_field, nonlinearity, rectifiers, smooth
    from actlab.playground import Engine

    img = actlab.cifar_like(200, 100, seed=0, cache=False)
    toy = actlab.toy_2d("circles", n=200, seed=0)

    def weights(model):
        return [p.detach().clone() for p in model.state_dict().values()]

    return {
        "data.toy_2d": lambda: actlab.toy_2d("moons", n=100, seed=1).x_train,
        "data.cifar_like": lambda: actlab.cifar_like(20, 10, seed=1, cache=False).x_train,
        "plot.plot_activation(rrelu)": lambda: actlab.plot_activation("rrelu").axes[0].lines[0].get_ydata(),
        "plot.curves(rrelu)": lambda: actlab.curves("rrelu", points=11).y,
        "explore.Explorer(rrelu)": lambda: actlab.Explorer("rrelu", points=21).line_f.get_ydata(),
        "rectifiers.born_dead_fraction": lambda: rectifiers.born_dead_fraction(6, 3, trials=10),
        "smooth.signal_through_depth": lambda: smooth.signal_through_depth("tanh", depth=3, width=8, n=20).values,
        "nonlinearity.collapse_linear": lambda: weights(nonlinearity.collapse_linear([fixed_linear(3, 4),
                                                                                      fixed_linear(4, 2)])),
        "basics.same_sign_updates": lambda: basics.same_sign_updates(steps=5),
        "basics.train_toy_models": lambda: [weights(m) for m in basics.train_toy_models(3, 1, 40)[1].values()],
        "basics.step_vs_sigmoid": lambda: basics.step_vs_sigmoid(0, 1, 40),
        "basics.gradient_sign_agreement": lambda: basics.gradient_sign_agreement(batches=5),
        "basics.deep_mlp": lambda: weights(basics.deep_mlp("tanh", depth=2, width=4, in_features=3)),
        "basics.train_deep": lambda: basics.numbers_only(basics.train_deep("tanh", "xavier", 1.0, img, epochs=1,
                                                                           depth=2, width=8)),
        "mean_field.preactivation_variance": lambda: mean_field.preactivation_variance("tanh", 1.0, depth=2, width=8, n=10),
        "basics.initial_loss": lambda: basics.initial_loss("relu", "kaiming", 1.0, img, depth=2, width=8, n=20),
        "rectifiers.make_mlp": lambda: weights(rectifiers.make_mlp(3, in_features=5, width=4, depth=2)),
        "rectifiers.train_seed": lambda: weights(rectifiers.train_seed(1, img, 0.01, 1, dropout=0.3, width=8,
                                                                       depth=2, monitor=False)[0]),
        "rectifiers.grow_run": lambda: rectifiers.grow_run(0, "relu", img, 0.05, 3, depth=2, width=8),
        "comparison.swap_and_finetune": lambda: comparison.swap_and_finetune(
            comparison.pooled_features(img, 4), ["gelu"], 0, base_epochs=1),
        "comparison.train_each": lambda: comparison.train_each(
            {"rrelu": lambda: actlab.MLP(1, 4, "rrelu", in_features=2, out_features=2)}, toy, 0, epochs=1),
        "comparison.time_training_steps": lambda: list(comparison.time_training_steps(
            ["rrelu"], img, batch_size=8, rounds=1, min_run_time=1e-4).index),
        "smooth.pushed_negative": lambda: smooth.pushed_negative("relu", [0.0, 1.0], img, width=8, n_inputs=20).values,
        "smooth.rrelu_slopes": lambda: smooth.rrelu_slopes(n=50)["train"],
        "smooth.signal_drift": lambda: smooth.signal_drift("selu", "lecun", 0, depth=2, width=8, n=20),
        "smooth.noise_passed": lambda: smooth.noise_passed(["rrelu"], [-1.0], n=50)["monte carlo"].tolist(),
        "smooth.stochastic_vs_gelu": lambda: smooth.stochastic_vs_gelu(
            torch.linspace(-2, 2, 8).reshape(2, 4), depth=2, width=4, samples=10).values,
        "playground.Engine(rrelu)": lambda: Engine({"activation": "rrelu", "depth": 2, "width": 4, "n": 64}).run(
            3, record_every=3).history,
        "diagnostics.init_grad_profiles": lambda: actlab.init_grad_profiles(["rrelu", "relu"], toy, depth=2, width=4),
    }


def same(a, b) -> bool:
    """Equal results, tensors and arrays by value (NaN equal to NaN), containers element by element."""
    import numpy as np

    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == object or b.dtype == object:  # a DataFrame's mixed columns: element by element
        return a.shape == b.shape and all(same(x, y) for x, y in zip(a.ravel().tolist(), b.ravel().tolist()))
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


CALLS = _calls()


OUTSIDE = {}  # name -> reason, for a function known to break the rule (strict xfail: fixing it is noticed)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(reason=OUTSIDE[n], strict=True))
                                  if n in OUTSIDE else n for n in CALLS])
def test_library_functions_leave_the_global_generator_alone_and_follow_only_their_seed(name, tmp_path, monkeypatch):
    """torch.random.get_rng_state() is the same before and after the call, and the result does not depend on the
    state the caller left the global generator in (seeds 1 and 2 before the call)."""
    monkeypatch.setenv("ACTLAB_DATA", str(tmp_path))  # swap_and_finetune caches its base run: not in data/
    for module in (actlab.data, actlab.training):
        monkeypatch.setattr(module, "DATA_DIR", tmp_path, raising=False)  # where still read at import
    results = []
    for caller_seed in (1, 2):
        torch.manual_seed(caller_seed)
        before = torch.random.get_rng_state()
        results.append(CALLS[name]())
        assert torch.equal(torch.random.get_rng_state(), before), f"{name} moved the global generator"
    assert same(*results), f"{name} depends on the caller's global random state"


def test_a_random_stream_continues_across_blocks_and_leaves_the_caller_s_state():
    """seeding.RandomStream (the playground's run-own generator): blocks draw one continuous sequence from the seed,
    as one seeded block would; the caller's draws in between neither disturb it nor are disturbed; nesting continues."""
    from actlab.seeding import RandomStream, seeded
    with seeded(7, cpu_only=True):
        expected = torch.rand(6)
    stream, caller = RandomStream(7), torch.get_rng_state()
    with stream:
        first = torch.rand(2)
    assert torch.equal(torch.get_rng_state(), caller)
    torch.rand(5)  # the caller draws: the stream does not see it
    after_caller = torch.get_rng_state()
    with stream:
        second = torch.rand(2)
        with stream:  # nested: continues the outer block
            third = torch.rand(2)
    assert torch.equal(torch.get_rng_state(), after_caller)
    assert torch.equal(torch.cat([first, second, third]), expected)
    assert not torch.equal(RandomStream(8).state, RandomStream(7).state)
