"""Helpers for the project's own tests: build rigs from dicts, and bench them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from harness.rig import Rig, from_dict

REPO = Path(__file__).resolve().parent.parent
SIM_YAML = REPO / "harness" / "drivers" / "sim_instruments.yaml"


def rig_dict(**tables: Any) -> dict[str, Any]:
    """A minimal valid monotonic rig with our EVSE against a vehicle; `tables` replace or add tables."""
    base: dict[str, Any] = {
        "rig": {"name": "test", "clock": "monotonic", "stack_role": "evse"},
        "dut": {"kind": "vehicle", "name": "test vehicle"},
    }
    base.update(copy.deepcopy(tables))
    return base


def make_rig(**tables: Any) -> Rig:
    return from_dict(rig_dict(**tables), "test.toml")


@pytest.fixture
def sim_yaml() -> str:
    return f"{SIM_YAML}@sim"


def require_refimpl(name: str) -> str:
    """The Python of reference implementation `name`; skips the test when it is absent — unless
    CCS_HIL_REQUIRE_ALL=1 (CI as root), where an absent peer is a failure, so interop never passes by skipping."""
    import os

    from harness.refimpl import missing_reason, python_for

    python = python_for(name)
    if python is None:
        if os.environ.get("CCS_HIL_REQUIRE_ALL") == "1":
            pytest.fail(missing_reason(name) + " (CCS_HIL_REQUIRE_ALL=1)")
        pytest.skip(missing_reason(name))
    return str(python)
