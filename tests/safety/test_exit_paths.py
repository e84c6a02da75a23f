"""Every way a run can end leaves the bench safe — checked on the emulators' own state, in this process, after the
pytest process that drove them has ended:

- CP board (pty emulator): oscillator off, vehicle load open (state A), no fault;
- DC supply (TCP-served emulator): output off;
- PLC adaptors (emulated QCA7420s behind veth, our loopback wiring): both hold a fresh random NMK — not the key of
  the session the test matched, and not each other's (no AVLN).

Exit paths: pass, failure, pytest-timeout, Ctrl-C, SIGTERM, an instrument error (the supply starts answering
garbage), a lost link (the CP board's USB is pulled), and SIGKILL — where nothing in the process runs any more
and the board's and the supply's watchdogs switch off by themselves (the adaptors then keep the session's key
until the next run's start-up check gives them fresh ones, which is checked too)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from harness.drivers.powerline import give_profile
from harness.sim.cp_board import CpBoardEmulator, PtyCpBoard
from harness.sim.scpi_emulators import DcSupplyEmulator, ScpiSocketServer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, veth, raw sockets)")

RIG = """
[rig]
name = "exits"
clock = "monotonic"
stack_role = "per-test"
requires = ["root"]
[dut]
kind = "our-stack"
[cp]
driver = "serial"
port = "{port}"
side = "both"
timeout_ms = 300
poll_interval_ms = 20
watchdog_s = 0.5
[plc]
transport = "raw"
evse_interface = "{iface}"
evse_netns = "{evse_ns}"
pev_interface = "{iface}"
pev_netns = "{pev_ns}"
[power]
driver = "scpi-supply"
resource = "{supply}"
timeout_ms = 500
voltage_scale = 0.05
current_scale = 0.1
max_output_v = 30.0
watchdog_s = 0.5
[limits]
max_current_a = 32.0
max_dc_voltage_v = 500.0
"""

TEST = '''
import faulthandler, os, signal, time
faulthandler.register(signal.SIGUSR1, all_threads=True)  # the parent asks for stacks when this run hangs
from harness.runtime.runner import Node
from stack.homeplug import EvseSlac, EvseSlacConfig, PevSlac, PevSlacConfig
from stack.homeplug.timers import TT_matching_repetition
from stack.timers import SpecTimer

MODE = os.environ["EXIT_MODE"]


def test_exit(bench, cp, power):
    link = bench.resource("plc")
    evse, pev = EvseSlac(EvseSlacConfig(wait_for_cp=False)), PevSlac(PevSlacConfig(wait_for_cp=False))
    bench.add_node(Node("evse", evse, *link.address("evse")), attach={"plc": {"side": "evse"}})
    bench.add_node(Node("pev", pev, *link.address("pev"), role="dut"), attach={"plc": {"side": "pev"}})
    bench.expect(lambda: evse.matched and pev.matched, TT_matching_repetition, "SLAC matched")
    bench.cp_load.set_state("B")
    cp.set_pwm(5.0)
    power.set_target(400.0, 10.0)
    power.output_on()
    if MODE == "pass":
        return
    if MODE == "fail":
        assert False, "deliberate failure"
    end = time.monotonic() + 60
    while time.monotonic() < end:  # a test holding the charge, measuring, until something ends it
        bench.hold(SpecTimer("T_hold_step", 0.1))
        power.read()
'''


@pytest.fixture
def bench_parts():
    from harness.netns import SimNet

    with SimNet.build() as net, PtyCpBoard(CpBoardEmulator(side="both")) as board, \
            ScpiSocketServer(DcSupplyEmulator(load_ohm=20.0)) as supply:
        for role in net.roles:
            give_profile(net.line, f"{role}-modem", role)
        yield net, board, supply


def start(tmp_path, parts, mode, *args):
    net, board, supply = parts
    (tmp_path / "exits.toml").write_text(RIG.format(port=board.port, iface=net.iface, evse_ns=net.ns["evse"],
                                                    pev_ns=net.ns["pev"], supply=supply.resource))
    (tmp_path / "test_exit.py").write_text(textwrap.dedent(TEST))
    return subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_exit.py", "--rig",
                             str(tmp_path / "exits.toml"), "--ccs-out", str(tmp_path / "out"), "--rootdir",
                             str(tmp_path), "-c", os.devnull, *args], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "EXIT_MODE": mode})


def charging(parts) -> bool:
    """The test got as far as holding a charge: asked of the emulators."""
    net, board, supply = parts
    return board.emulator.oscillator == "PWM 5.0" and board.emulator.load_state == "B" and supply.emulator.output


def wait_charging(parts, process, timeout=60.0):
    _, board, supply = parts
    ok = board.emulator.wait(lambda: charging(parts), timeout)
    if not ok:
        process.kill()
        raise AssertionError("the test never started charging:\n" + process.communicate()[0][-3000:])


def finish(process, timeout=60.0) -> str:
    try:
        return process.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        kernel = _kernel_state(process.pid)
        process.send_signal(signal.SIGUSR1)  # every thread's stack, for the report
        try:
            output = process.communicate(timeout=2)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0]
        raise AssertionError(f"the run did not end within {timeout} s:\n{output[-8000:]}\n{kernel}") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _kernel_state(pid: int) -> str:
    """Where each thread of a hung process sleeps (state, wait channel, kernel stack): for the failure report."""
    lines = []
    for task in sorted(os.listdir(f"/proc/{pid}/task")):
        base = f"/proc/{pid}/task/{task}"
        parts = []
        for name in ("comm", "wchan", "stack"):
            try:
                with open(f"{base}/{name}") as handle:
                    parts.append(handle.read().strip().replace("\n", " | "))
            except OSError as exc:
                parts.append(f"({exc.strerror})")
        try:
            with open(f"{base}/stat") as handle:
                parts.insert(1, handle.read().split(") ")[1].split()[0])
        except OSError:
            pass
        lines.append(f"  task {task}: " + " ".join(parts))
    return "threads:\n" + "\n".join(lines)


def session_key(tmp_path) -> bytes:
    path = next((tmp_path / "out" / "exits").glob("**/timeline.jsonl"))
    records = [json.loads(line) for line in path.read_text().splitlines()]
    matched = [r for r in records if r["name"] == "slac_matched" and r["src"] == "evse"]
    assert matched, "the timeline has no SLAC match"
    return bytes.fromhex(matched[0]["body"]["nmk"])


def assert_left_safe(parts, tmp_path, keys_reset: bool = True) -> None:
    net, board, supply = parts
    assert board.emulator.safe, (board.emulator.oscillator, board.emulator.load_state, board.emulator.relay)
    assert board.emulator.oscillator == "OFF" and board.emulator.load_state == "A"
    assert not supply.emulator.output
    if keys_reset:
        key = session_key(tmp_path)
        with net.bridge.locked() as line:
            now = net.bridge.now() + 1.0
            keys = {line.nmk("evse-modem", now), line.nmk("pev-modem", now)}
            assert key not in keys and len(keys) == 2
            assert not line.same_network("evse-modem", "pev-modem", now)


@pytest.mark.parametrize("mode", ["pass", "fail"])
def test_end_of_test_pass_and_fail(tmp_path, bench_parts, mode):
    output = finish(start(tmp_path, bench_parts, mode))
    assert ("1 passed" if mode == "pass" else "1 failed") in output, output[-3000:]
    assert_left_safe(bench_parts, tmp_path)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted(tmp_path, bench_parts, signum):
    process = start(tmp_path, bench_parts, "hold")
    wait_charging(bench_parts, process)
    process.send_signal(signum)
    output = finish(process)
    assert "Interrupted" in output or "KeyboardInterrupt" in output, output[-3000:]
    assert_left_safe(bench_parts, tmp_path)


def test_pytest_timeout(tmp_path, bench_parts):
    output = finish(start(tmp_path, bench_parts, "hold", "--timeout", "8"))
    assert "Timeout" in output and "1 failed" in output, output[-3000:]
    assert_left_safe(bench_parts, tmp_path)


def test_instrument_error(tmp_path, bench_parts):
    net, board, supply = bench_parts
    process = start(tmp_path, bench_parts, "hold")
    wait_charging(bench_parts, process)
    supply.emulator.replies = {"MEAS:VOLT?": "overload"}  # the supply starts talking nonsense
    output = finish(process)
    assert "'MEAS:VOLT?' answered 'overload', expected a number" in output and "1 failed" in output, output[-3000:]
    supply.emulator.replies = {}
    assert_left_safe(bench_parts, tmp_path)


def test_lost_link_to_the_cp_board(tmp_path, bench_parts):
    """The board's USB is pulled mid-test: the harness cannot reach it any more, the test fails, everything else
    is made safe, and the board — no heartbeats — switches itself off."""
    net, board, supply = bench_parts
    process = start(tmp_path, bench_parts, "hold")
    wait_charging(bench_parts, process)
    board.unplug()
    output = finish(process)
    assert "1 failed" in output and "CP board" in output, output[-3000:]
    assert "could not make" in output  # the unreachable board is reported loudly, not silently skipped
    assert board.emulator.wait(lambda: board.emulator.watchdog_tripped, timeout=5.0)
    assert_left_safe(bench_parts, tmp_path)


def test_killed_process_the_watchdogs_switch_off(tmp_path, bench_parts):
    net, board, supply = bench_parts
    process = start(tmp_path, bench_parts, "hold")
    wait_charging(bench_parts, process)
    process.send_signal(signal.SIGKILL)  # nothing in that process runs any more: no safe(), no teardown
    finish(process)
    assert board.emulator.wait(lambda: board.emulator.watchdog_tripped, timeout=5.0)
    assert supply.emulator.wait(lambda: supply.emulator.watchdog_tripped, timeout=5.0)
    assert_left_safe(bench_parts, tmp_path, keys_reset=False)
    with net.bridge.locked() as line:  # the adaptors still share the killed session's key...
        assert line.same_network("evse-modem", "pev-modem", net.bridge.now() + 1.0)
    # ...until the next run's start-up check gives each a fresh one
    output = finish(start(tmp_path, bench_parts, "pass"))
    assert "key: fresh random NMK set" in output and "1 passed" in output, output[-3000:]
    assert_left_safe(bench_parts, tmp_path)


def test_lost_plc_link(tmp_path, bench_parts):
    """The EVSE adaptor's Ethernet is pulled mid-test (its veth disappears): the raw socket reports it, the test
    fails naming the interface, the CP board and the supply are made safe, the PEV adaptor gets a fresh key, and
    the key reset that cannot reach the EVSE adaptor is reported, not hidden."""
    net, board, supply = bench_parts
    process = start(tmp_path, bench_parts, "hold")
    wait_charging(bench_parts, process)
    subprocess.run(["ip", "-n", net.ns["evse"], "link", "del", net.iface], check=True)
    output = finish(process)
    assert "1 failed" in output and "raw Ethernet on 'plc0'" in output, output[-3000:]
    assert "plc raw evse modem evse: key reset failed" in output
    assert_left_safe(bench_parts, tmp_path, keys_reset=False)
    key = session_key(tmp_path)
    with net.bridge.locked() as line:
        assert line.nmk("pev-modem", net.bridge.now() + 1.0) != key  # the reachable adaptor left the AVLN
    assert net.bridge.error is None
