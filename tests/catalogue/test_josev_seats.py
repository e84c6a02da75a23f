"""The Josev rigs: `rigs/josev-secc.toml` and `rigs/josev-evcc.toml` load with the role they fix, the seats skip with
the reason when Josev or Java is missing, and — as root with Josev installed — each seat starts Josev inside its
namespace, serves a whole session against our tester, and is gone when the bench closes (also after a failure, and
when Josev dies at start-up, which is an error naming what it logged)."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from harness import josev
from harness.bench import Bench
from harness.catalogue import V2G
from harness.drivers.ip_veth import T_process_stop, group_alive
from harness.options import RigError
from harness.refimpl import python_for
from harness.rig import from_dict, load

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, veth pairs)")
needs_josev = pytest.mark.skipif(python_for("josev") is None or shutil.which("java") is None,
                                 reason="josev (CCS_HIL_JOSEV_PYTHON or .venvs/josev) and java are needed")


def test_the_josev_rigs_fix_the_duts_role():
    secc, evcc = load("josev-secc"), load("josev-evcc")
    assert (secc.dut_role, secc.dut["kind"], secc.stack_role) == ("evse", "josev-secc", "pev")
    assert (evcc.dut_role, evcc.dut["kind"], evcc.stack_role) == ("pev", "josev-evcc", "evse")
    assert "root" in secc.requires and secc.section("ip").driver == "veth" and secc.section("cp") is None
    with pytest.raises(RigError, match="a josev-secc DUT needs our stack as pev, not 'evse'"):
        from_dict({"rig": {"name": "x", "stack_role": "evse"}, "dut": {"kind": "josev-secc"}}, "x.toml")


def test_a_missing_josev_or_java_skips_with_the_reason(monkeypatch):
    with Bench(load("josev-secc")) as bench:
        monkeypatch.setattr(josev, "python_for", lambda name: None)
        with pytest.raises(pytest.skip.Exception, match="josev not installed: set CCS_HIL_JOSEV_PYTHON"):
            V2G(bench).start("iso2-dc")
    with Bench(load("josev-evcc")) as bench:
        monkeypatch.setattr(josev, "python_for", lambda name: "/usr/bin/python3")
        monkeypatch.setattr(josev, "_probe", lambda python: None)
        monkeypatch.setattr(josev.shutil, "which", lambda name: None)
        with pytest.raises(pytest.skip.Exception, match="josev needs Java"):
            V2G(bench).start("iso2-dc")


@needs_root
@needs_josev
@pytest.mark.timeout(120)
@pytest.mark.parametrize(("rig", "protocol"), [("josev-secc", "iso2-ac"), ("josev-evcc", "iso2-ac"),
                                               ("josev-evcc", "din")])
def test_a_josev_seat_serves_a_session_and_is_stopped_with_the_bench(rig, protocol):
    with Bench(load(rig)) as bench:
        v2g = V2G(bench).start(protocol)
        v2g.run_to_end()
        spawned = v2g.seat.extra["process"]
        assert spawned.running or rig == "josev-evcc"  # Josev's EVCC exits by itself after its session
        names = [e.pair for e in v2g.exchanges()]
        assert names[:2] == ["SupportedAppProtocol", "SessionSetup"] and names[-1] == "SessionStop", names
        assert "SessionSetupRe" in spawned.log_tail(1_000_000)  # its own log, next to the timeline
    assert spawned.process.poll() is not None
    deadline = time.monotonic() + T_process_stop.seconds  # SIGKILLed members of the group vanish at once
    while group_alive(spawned.process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not group_alive(spawned.process.pid), "something of Josev's process group (its JVM) is left"


@needs_root
@needs_josev
@pytest.mark.timeout(120)
def test_a_josev_that_dies_at_start_up_is_an_error_with_its_log(monkeypatch):
    monkeypatch.setitem(josev.SECC_PROTOCOLS, "iso2-dc", "NO_SUCH_PROTOCOL")
    with Bench(load("josev-secc")) as bench:
        with pytest.raises(josev.JosevStartError, match="Josev exited with .* before it was ready") as caught:
            V2G(bench).start("iso2-dc")
        assert "NoSupportedProtocols" in str(caught.value)
