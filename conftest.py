"""Root conftest, kept thin on purpose: the ccs-hil plugin (`harness.plugin`: --rig, fixtures, markers) is loaded
through its `pytest11` entry point once the package is installed (`pip install -e .`, see README). A checkout
used without installing loads the same plugin from here, so `pytest` behaves the same either way."""

from importlib import metadata

_installed = any(ep.value == "harness.plugin" for ep in metadata.entry_points(group="pytest11"))
pytest_plugins = [] if _installed else ["harness.plugin"]
