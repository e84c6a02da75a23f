"""The CP board is left safe when pytest is interrupted (Ctrl-C), terminated (SIGTERM), hits a pytest-timeout or a
test fails — checked on the board emulator's own state, in this process, not on the driver's variables."""

from __future__ import annotations

import json
import signal
import textwrap

import pytest

from harness.sim.cp_board import CpBoardEmulator, PtyCpBoard
from tests.plugin.helpers import popen_pytest

RIG = """
[rig]
name = "ptyboard"
clock = "monotonic"
stack_role = "evse"
[dut]
kind = "vehicle"
[cp]
driver = "serial"
port = "{port}"
side = "evse"
timeout_ms = 500
poll_interval_ms = 20
"""

TESTS = '''
from stack.timers import SpecTimer

def test_hold(cp, bench):
    cp.set_pwm(50.0)
    bench.wait_for(lambda: False, SpecTimer("T_hold", 60.0), "hold until interrupted")

def test_fail(cp, bench):
    cp.set_pwm(50.0)
    assert False, "deliberate failure"
'''


@pytest.fixture
def board():
    emulator = CpBoardEmulator(side="evse")
    emulator.line.load.present("B")  # a vehicle is connected
    with PtyCpBoard(emulator) as served:
        yield served


def start(tmp_path, board, *args):
    (tmp_path / "ptyboard.toml").write_text(RIG.format(port=board.port))
    (tmp_path / "test_hold.py").write_text(textwrap.dedent(TESTS))
    return popen_pytest("test_hold.py", "--rig", str(tmp_path / "ptyboard.toml"), "--ccs-out", str(tmp_path / "out"),
                        *args, cwd=tmp_path)


def wait_pwm_then(board, process, action):
    emulator = board.emulator
    try:
        assert emulator.wait(lambda: emulator.oscillator == "PWM 50.0", timeout=60), "the test never started PWM"
        action(process)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return output


def timeline_result(tmp_path, test_name):
    path = tmp_path / "out" / "ptyboard" / "test_hold.py" / test_name / "timeline.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[0]["layer"] == "meta"
    return records[-1]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_run_leaves_the_board_safe(tmp_path, board, signum):
    process = start(tmp_path, board, "-k", "test_hold")
    output = wait_pwm_then(board, process, lambda p: p.send_signal(signum))
    emulator = board.emulator
    assert emulator.wait(lambda: emulator.evse_safe, timeout=10), f"board left at {emulator.oscillator}\n{output}"
    assert emulator.received[emulator.received.index("PWM 50.0"):].count("OFF") >= 1
    assert process.returncode == 2, output  # pytest's "interrupted"
    assert "Traceback" not in output
    result = timeline_result(tmp_path, "test_hold")
    assert result["name"] == "result" and result["body"]["outcome"] == "interrupted"


def test_pytest_timeout_leaves_the_board_safe(tmp_path, board):
    process = start(tmp_path, board, "-k", "test_hold", "--timeout", "2")
    output = wait_pwm_then(board, process, lambda p: None)
    assert board.emulator.wait(lambda: board.emulator.evse_safe, timeout=10), output
    assert process.returncode == 1 and "Timeout" in output, output
    assert timeline_result(tmp_path, "test_hold")["body"]["outcome"] == "failed"


def test_failed_test_leaves_the_board_safe(tmp_path, board):
    process = start(tmp_path, board, "-k", "test_fail")
    output = wait_pwm_then(board, process, lambda p: None)
    assert board.emulator.evse_safe, output
    assert process.returncode == 1 and "deliberate failure" in output
