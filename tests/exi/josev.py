"""Host side of the Josev (EcoG-io/iso15118, EXIficient via Java) cross-check: locate its venv, convert
between our dict model and its JSON form, run `josev_bridge.py` there in one subprocess per batch."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

from .grammar_walk import map_values, root_key

REPO = Path(__file__).resolve().parents[2]
BRIDGE = Path(__file__).with_name("josev_bridge.py")

NAMESPACES = {
    "apphand": "urn:iso:15118:2:2010:AppProtocol",
    "din": "urn:din:70121:2012:MsgDef",
    "iso2": "urn:iso:15118:2:2013:MsgDef",
    "iso20": "urn:iso:std:iso:15118:-20:CommonMessages",
    "iso20_ac": "urn:iso:std:iso:15118:-20:AC",
    "iso20_dc": "urn:iso:std:iso:15118:-20:DC",
    "iso20_wpt": "urn:iso:std:iso:15118:-20:WPT",
    "iso20_acdp": "urn:iso:std:iso:15118:-20:ACDP",
}


def josev_python() -> str:
    from harness.refimpl import python_for

    found = python_for("josev")
    return str(found) if found else str(REPO / ".venvs" / "josev" / "bin" / "python")


@cache
def unavailable_reason() -> str | None:
    """None when the cross-check can run, else why not (used as the pytest skip reason)."""
    py = josev_python()
    if not os.access(py, os.X_OK):
        return f"Josev venv not found: {py} (set CCS_HIL_JOSEV_PYTHON or create .venvs/josev with iso15118)"
    if shutil.which("java") is None:
        return "Java not installed: Josev's EXI codec (EXIficient) runs in a JVM"
    try:
        probe = subprocess.run(
            [py, "-c", "import iso15118.shared.exificient_exi_codec, py4j"],
            capture_output=True, text=True, timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run Josev's python {py}: {exc}"
    if probe.returncode != 0:
        return f"iso15118 (Josev) not importable in {py}: {probe.stderr.strip().splitlines()[-1:]}"
    return None


def run_bridge(requests: list[dict], timeout: float = 900, processes: int = 1, quick_jvm: bool = False) -> dict:
    """Answer `requests` in Josev's codec: one bridge subprocess (one JVM), or `processes` of them on consecutive
    slices run side by side — the JVM's EXI work is CPU-bound, so the cross-check spreads it over the cores.
    `quick_jvm`: JIT with C1 only (-XX:TieredStopAtLevel=1): a batch of seconds finishes ~30 % sooner without
    the optimising compiler's work. Benchmarks keep the defaults (one JVM, full JIT: what Josev runs with)."""
    slices = max(1, min(processes, len(requests) // 200))  # a JVM start costs ~2 s: not for small batches
    env = dict(os.environ)
    if quick_jvm:
        env["JAVA_TOOL_OPTIONS"] = f"{env.get('JAVA_TOOL_OPTIONS', '')} -XX:TieredStopAtLevel=1".strip()
    if slices == 1:
        return _bridge(requests, timeout, env)
    size = -(-len(requests) // slices)
    with ThreadPoolExecutor(max_workers=slices) as pool:
        parts = list(pool.map(lambda i: _bridge(requests[i:i + size], timeout, env),
                              range(0, len(requests), size)))
    return {"version": parts[0]["version"], "results": [r for part in parts for r in part["results"]]}


def _bridge(requests: list[dict], timeout: float, env: dict[str, str] | None, script: Path = BRIDGE) -> dict:
    """Run a bridge script in Josev's venv on one batch of requests (JSON in, JSON out)."""
    proc = subprocess.run(
        [josev_python(), str(script)], input=json.dumps({"requests": requests}), capture_output=True, text=True,
        timeout=timeout, env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script.name} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def run_exificient(requests: list[dict], timeout: float = 600) -> list[dict]:
    """XML <-> EXI through the EXIficient inside Josev's jar (see exificient_bridge.py)."""
    return _bridge(requests, timeout, None, Path(__file__).with_name("exificient_bridge.py"))["results"]  # type: ignore[no-any-return]


def _to_josev(value: object, dt: tuple) -> object:
    if dt[0] == "hex":
        return str(value).upper()
    if dt[0] == "b64":
        return base64.b64encode(bytes.fromhex(str(value))).decode()
    return value


def _from_josev(value: object, dt: tuple) -> object:
    if dt[0] == "hex":
        return str(value).lower()
    if dt[0] == "b64":
        return base64.b64decode(str(value)).hex()
    return value


def to_josev(schema: str, message: dict) -> dict:
    """Our dict -> Josev JSON: hexBinary upper-case hex, base64Binary as base64 text."""
    (root, body), = message.items()
    return {root: map_values(schema, root_key(schema, root), body, _to_josev)}


def from_josev(schema: str, message: dict) -> dict:
    (root, body), = message.items()
    return {root: map_values(schema, root_key(schema, root), body, _from_josev)}
