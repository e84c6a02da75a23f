"""Josev (EcoG-io/iso15118) in the DUT seat of a catalogue test: the `josev-secc` and `josev-evcc` seats.

The rigs `rigs/josev-secc.toml` (Josev's SECC simulator is the charger under test, our PEV the tester) and
`rigs/josev-evcc.toml` (Josev's EVCC simulator is the car under test, our EVSE the tester) put it on a plain veth
pair between two network namespaces (`[ip] transport = "veth"`, `harness.drivers.ip_veth`): no modems, no SLAC,
no control pilot, TLS off, EIM only. Per test a fresh Josev process starts inside the DUT's namespace, so nothing
one test did (a paused session, a hung state machine) leaks into the next; the bench ends it on every exit path.

Josev runs in its own virtual environment (`harness.refimpl`: `CCS_HIL_JOSEV_PYTHON`, else `.venvs/josev`) and
needs Java for its EXI codec; when either is missing the test is skipped with the reason (and CI, with
`CCS_HIL_REQUIRE_ALL=1`, turns that skip into a failure). Its output goes to `josev-secc.log` / `josev-evcc.log`
next to the test's timeline — the evidence FINDINGS.md quotes.

How Josev is configured (its own settings, nothing patched):
- SECC: environment `PROTOCOLS` (the test's protocol only), `AUTH_MODES=EIM`, `SECC_ENFORCE_TLS=false`,
  `FREE_CHARGING_SERVICE=false`, `NETWORK_INTERFACE`; its simulator offers DC_extended and AC_three_phase_core
  under ISO 15118-2 and DC_extended under DIN. Ready when it logs "UDP server started" (`T_josev_startup`).
- EVCC: a JSON config file (`supportedProtocols`, `energyTransferMode`, `supportedEnergyServices`, `useTls=false`,
  `isCertInstallNeeded=false`, `chargeLoopCycle` = the catalogue's `charge_loops`); it starts SDP at once, so our
  EVSE is listening before it is started.

A Josev DUT cannot be configured per test (`dut=` settings: skipped with `needs dut-setup`) nor commanded
(`v2g.dut_command`: skipped with `needs dut-control`).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from harness.bench import Bench
from harness.catalogue.seats import Seat, register_seat
from harness.refimpl import missing_reason, python_for
from stack.timers import SpecTimer

T_josev_startup = SpecTimer("T_josev_startup", 45.0, "ccs-hil working value: Josev's SECC starts its JVM gateway "
                            "(EXIficient via py4j) and UDP server; about 3 s on a quiet machine")
T_probe = SpecTimer("T_josev_probe", 60.0, "ccs-hil working value: importing iso15118 in Josev's venv")
_POLL_S = 0.05  # how often the start-up wait looks at Josev's log
READY_TEXT = "UDP server started"
SECC_PROTOCOLS = {"din": "DIN_SPEC_70121", "iso2-dc": "ISO_15118_2", "iso2-ac": "ISO_15118_2"}
EVCC_SETTINGS: dict[str, dict[str, Any]] = {
    "din": {"supportedProtocols": ["DIN_SPEC_70121"], "energyTransferMode": "DC_extended"},
    "iso2-dc": {"supportedProtocols": ["ISO_15118_2"], "supportedEnergyServices": ["DC"],
                "energyTransferMode": "DC_extended"},
    "iso2-ac": {"supportedProtocols": ["ISO_15118_2"], "supportedEnergyServices": ["AC"],
                "energyTransferMode": "AC_three_phase_core"},
}


class JosevStartError(RuntimeError):
    """Josev was there but did not come up (the message carries the end of its log)."""


@functools.lru_cache(maxsize=4)
def _probe(python: str) -> str | None:
    """None when `python` can import Josev, else why not."""
    try:
        probe = subprocess.run([python, "-c", "import iso15118, aiofile"], capture_output=True, text=True,
                               timeout=T_probe.seconds, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{python}: {exc}"
    return None if probe.returncode == 0 else f"{python} cannot import iso15118: {probe.stderr.strip()[-300:]}"


def josev_python() -> str:
    """Josev's interpreter; skips the test with the reason when Josev or Java is missing."""
    python = python_for("josev")
    if python is None:
        pytest.skip(missing_reason("josev"))
    problem = _probe(str(python))
    if problem:
        pytest.skip(f"josev not usable: {problem}; {missing_reason('josev')}")
    if shutil.which("java") is None:
        pytest.skip("josev needs Java for its EXI codec (EXIficient): install a JRE (java on PATH)")
    return str(python)


def _workdir(bench: Bench, ip: Any) -> Path:
    """Next to the test's timeline when the plugin gave it a place, else a temporary folder removed with the
    bench."""
    path = getattr(bench, "output_path", None)
    if path is None:
        folder = Path(tempfile.mkdtemp(prefix="ccs-hil-josev-"))
        ip.scratch.append(folder)
        return folder
    folder = Path(path).parent
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _veth(bench: Bench) -> Any:
    ip = bench.resource("ip")
    if not hasattr(ip, "spawn"):
        raise ValueError(f"rig {bench.rig.name}: a Josev DUT runs in a network namespace; its [ip] table needs "
                         f"transport = \"veth\", not {bench.rig.section('ip').driver!r}")  # type: ignore[union-attr]
    return ip


def _env(iface: str, extra: dict[str, str]) -> dict[str, str]:
    return dict(os.environ, NETWORK_INTERFACE=iface, LOG_LEVEL="INFO", MESSAGE_LOG_JSON="false",
                MESSAGE_LOG_EXI="false", PYTHONUNBUFFERED="1", **extra)


def _wait_ready(spawned: Any, limit: SpecTimer) -> float:
    """Wait (bounded) until Josev logs that it serves; returns the seconds it took."""
    began = time.monotonic()
    while time.monotonic() - began < limit.seconds:
        if READY_TEXT in spawned.log_tail(1_000_000):
            return time.monotonic() - began
        if not spawned.running:
            raise JosevStartError(f"Josev exited with {spawned.process.returncode} before it was ready:\n"
                                  f"{spawned.log_tail()}")
        time.sleep(_POLL_S)
    raise JosevStartError(f"Josev did not log {READY_TEXT!r} within {limit}:\n{spawned.log_tail()}")


def josev_secc(bench: Bench, role: str, protocol: str, config: dict[str, Any], slac: bool) -> Seat:
    """Josev's SECC simulator as the charger under test, started inside the EVSE side's namespace."""
    if role != "evse":
        raise ValueError(f"rig {bench.rig.name}: Josev's SECC is a charger, the test wants a {role} DUT")
    python = josev_python()
    ip = _veth(bench)
    folder = _workdir(bench, ip)
    env = _env(ip.interface("evse"), {"PROTOCOLS": SECC_PROTOCOLS[protocol], "AUTH_MODES": "EIM",
                                      "SECC_ENFORCE_TLS": "false", "FREE_CHARGING_SERVICE": "false"})
    spawned = ip.spawn("evse", [python, "-m", "iso15118.secc.main"], env=env, log=folder / "josev-secc.log",
                       cwd=folder)
    ready = _wait_ready(spawned, T_josev_startup)
    bench.note("dut started", dut="josev-secc", pid=spawned.process.pid, protocol=protocol,
               protocols=SECC_PROTOCOLS[protocol], ready_after_s=round(ready, 3), log=str(spawned.log))
    return Seat("josev-secc", extra={"process": spawned, "log": spawned.log})


def josev_evcc(bench: Bench, role: str, protocol: str, config: dict[str, Any], slac: bool) -> Seat:
    """Josev's EVCC simulator as the car under test, started inside the PEV side's namespace once our EVSE
    listens."""
    if role != "pev":
        raise ValueError(f"rig {bench.rig.name}: Josev's EVCC is a car, the test wants a {role} DUT")
    python = josev_python()
    ip = _veth(bench)
    folder = _workdir(bench, ip)
    settings = {**EVCC_SETTINGS[protocol], "isCertInstallNeeded": False, "useTls": False,
                "chargeLoopCycle": int(config.get("charge_loops") or 10)}
    config_path = folder / "josev-evcc.json"
    config_path.write_text(json.dumps(settings, indent=1), encoding="utf-8")
    bench.settle()  # our EVSE binds UDP 15118 and listens before the car's first SDP request
    env = _env(ip.interface("pev"), {"EVCC_CONFIG_PATH": str(config_path)})
    spawned = ip.spawn("pev", [python, "-m", "iso15118.evcc.main", str(config_path)], env=env,
                       log=folder / "josev-evcc.log", cwd=folder)
    bench.note("dut started", dut="josev-evcc", pid=spawned.process.pid, protocol=protocol, config=settings,
               log=str(spawned.log))
    return Seat("josev-evcc", extra={"process": spawned, "log": spawned.log})


register_seat("josev-secc", josev_secc)
register_seat("josev-evcc", josev_evcc)
