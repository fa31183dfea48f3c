# Google Colab only (elsewhere this cell does nothing): install the course from its repository, without touching
# Colab's own PyTorch, and turn on Colab's widget manager so that the sliders work.
import sys

if "google.colab" in sys.modules:
    import importlib
    import importlib.util
    import subprocess
    from importlib import metadata
    from pathlib import Path

    from packaging.requirements import Requirement

    REPOSITORY = "$repository"
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    if importlib.util.find_spec("actlab") is None:
        subprocess.run(pip + ["--no-deps", f"actlab @ git+{REPOSITORY}"], check=True)  # the course alone
        missing = []
        for line in metadata.requires("actlab"):
            requirement = Requirement(line)
            if requirement.name == "torch" or requirement.marker is not None:  # Colab's torch; no test extras
                continue
            try:
                if metadata.version(requirement.name) in requirement.specifier:
                    continue
            except metadata.PackageNotFoundError:
                pass
            missing.append(line)
        if missing:  # only what Colab lacks, with its torch held where it is
            Path("/tmp/actlab-keep-torch.txt").write_text(f"torch=={metadata.version('torch')}\n")
            subprocess.run(pip + ["-c", "/tmp/actlab-keep-torch.txt"] + missing, check=True)
        importlib.invalidate_caches()
    from google.colab import output

    output.enable_custom_widget_manager()
