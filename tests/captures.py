"""Where the project's tests find the pyPLC captures: the vendored copies in tests/data/captures (GPL-3 test data,
see its README), so a fresh clone runs every capture test; `CCS_HIL_CAPTURES` points elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

CAPTURES = Path(os.environ.get("CCS_HIL_CAPTURES") or Path(__file__).resolve().parent / "data" / "captures")
