# @title Colab only: installs the course; does nothing elsewhere
# On Google Colab this installs the course from its repository and turns on Colab's widget manager for the sliders.
# Colab's own packages stay as they are: its PyTorch, NumPy and the kernel's packages (ipykernel, jupyter_client:
# upgrading those can crash Colab's runtime) are held where they are by a pip constraint.
import sys

if "google.colab" in sys.modules:
    import importlib
    import importlib.util
    import subprocess
    from importlib import metadata
    from pathlib import Path

    from packaging.requirements import Requirement

    REPOSITORY = "$repository"
    PUBLISHED = $published  # False while pyproject.toml's [project.urls] Repository is the placeholder
    # Never installed or upgraded here: Colab's PyTorch build, its kernel's packages, JupyterLab (Colab has its own).
    KEEP = {"torch", "ipykernel", "jupyter-client", "jupyterlab"}
    # The one upgrade: the course's explorers are written and tested for ipywidgets 8 (Colab ships 7.7.1), which
    # Colab's custom widget manager, turned on below, renders.
    UPGRADE = {"ipywidgets"}
    HOLD = ("torch", "numpy", "ipykernel", "jupyter_client", "jupyter_core", "ipython", "traitlets", "tornado",
            "pyzmq")

    def installed(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    if importlib.util.find_spec("actlab") is None and not PUBLISHED:
        print("This copy of the course names no public repository yet (pyproject.toml, [project.urls] Repository).\n"
              "Install your copy yourself: !pip install --no-deps git+https://github.com/OWNER/NAME")
    elif importlib.util.find_spec("actlab") is None:
        subprocess.run(pip + ["--no-deps", f"actlab @ git+{REPOSITORY}"], check=True)  # the course alone
        wanted = []
        for line in metadata.requires("actlab"):
            requirement = Requirement(line)
            if requirement.marker is not None or requirement.name in KEEP:  # no test extras; Colab's own
                continue
            version = installed(requirement.name)
            if version is None or (requirement.name in UPGRADE and version not in requirement.specifier):
                wanted.append(line)
        if wanted:  # only what Colab lacks, and ipywidgets 8, with Colab's own packages held where they are
            held = [f"{name}=={installed(name)}" for name in HOLD if installed(name)]
            Path("/tmp/actlab-hold.txt").write_text("\n".join(held) + "\n")
            subprocess.run(pip + ["-c", "/tmp/actlab-hold.txt"] + wanted, check=True)
        importlib.invalidate_caches()
    if importlib.util.find_spec("actlab") is not None:
        tested = next(Requirement(r).specifier for r in metadata.requires("actlab") if Requirement(r).name == "torch")
        if installed("torch") not in tested:
            print(f"Colab's PyTorch is {installed('torch')}, outside the releases the course is tested with "
                  f"(torch{tested}): it kept Colab's, which usually works, but a number may differ from the text.")
    from google.colab import output

    output.enable_custom_widget_manager()
