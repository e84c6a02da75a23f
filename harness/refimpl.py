"""Where the reference implementations live: Josev (iso15118) and pyslac, each in its own virtual environment.

Their dependency pins conflict with ours and with each other, so they never share our interpreter: we run them
as subprocesses of their own Python. `CCS_HIL_JOSEV_PYTHON` / `CCS_HIL_PYSLAC_PYTHON` name that Python;
otherwise `.venvs/<name>/bin/python` in the checkout (or the current directory) is used.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INSTALL = {
    "josev": "pip install iso15118 aiofile (needs Java for its EXI codec)",
    "pyslac": "pip install pyslac 'marshmallow<4'",
}


def python_for(name: str) -> Path | None:
    """The interpreter of reference implementation `name` (`josev` or `pyslac`), or None when not installed."""
    if name not in INSTALL:
        raise ValueError(f"unknown reference implementation {name!r} (known: {', '.join(INSTALL)})")
    configured = os.environ.get(f"CCS_HIL_{name.upper()}_PYTHON")
    candidates = [Path(configured)] if configured else []
    candidates += [REPO / ".venvs" / name / "bin" / "python", Path.cwd() / ".venvs" / name / "bin" / "python"]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return None


def missing_reason(name: str) -> str:
    return (f"{name} not installed: set CCS_HIL_{name.upper()}_PYTHON to its venv's python, or create "
            f".venvs/{name} ({INSTALL[name]})")
