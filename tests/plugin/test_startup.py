"""Start-up checks: each failure mode gives its message, and missing things skip while wrong things abort — checked
on real parts (veth interfaces, emulated adaptors, pyvisa-sim and pty instruments, a process without
CAP_NET_RAW), in process through `harness.startup.run` and end to end through pytest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from harness import startup
from harness.bench import SessionResources
from harness.drivers.powerline import give_profile
from harness.rig import from_dict
from harness.sim.cp_board import CpBoardEmulator, PtyCpBoard
from tests.conftest import REPO, rig_dict
from tests.plugin.helpers import run_pytest

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, veth, raw sockets)")
WRONG_IDN = "USB0::0x0957::0x2807::MY00000009::INSTR"
GOOD = "USB0::0x0957::0x2807::MY00000001::INSTR"


def checks_for(**tables):
    session = SessionResources()
    try:
        return startup.run(from_dict(rig_dict(**tables), "bench.toml"), session)
    finally:
        session.close_all()


def only_failure(report):
    failed = [c for c in report.checks if not c.ok]
    assert len(failed) == 1, report.lines()
    return failed[0]


@pytest.fixture
def simnet():
    from harness.netns import SimNet

    with SimNet.build() as net:
        for role in net.roles:
            give_profile(net.line, f"{role}-modem", role)
        yield net


def raw(net, **options):
    return {"transport": "raw", "interface": net.iface, "netns": net.ns["evse"], **options}


# --------------------------------------------------------------------------- PLC adaptor


@needs_root
def test_a_configured_adaptor_passes_every_check_and_starts_without_an_avln(simnet):
    left_over = bytes(16)  # a killed run left both adaptors in one AVLN
    with simnet.bridge.locked() as line:
        for modem in line.modems.values():
            modem.nmk = left_over
    report = checks_for(plc=raw(simnet, modem_mac=simnet.line.modems["evse-modem"].mac, firmware=r"MAC-QCA7420"))
    assert all(c.ok for c in report.checks), report.lines()
    names = [c.name.split(": ", 1)[1] for c in report.checks]
    assert names == ["interface", "raw sockets", "adaptor", "PIB profile", "key"]
    assert "QCA7420 firmware MAC-QCA7420-1.4.0.20" in report.lines()[2]
    with simnet.bridge.locked() as line:
        assert line.nmk("evse-modem", 1e9) != left_over  # asked of the emulated adaptor
        assert not line.same_network("evse-modem", "pev-modem", 1e9)


@needs_root
def test_no_interface_skips_naming_what_is_there(simnet):
    check = only_failure(checks_for(plc=raw(simnet, interface="eth7")))
    assert check.action == "skip" and check.need == "plc"
    assert check.message == f"interface 'eth7' in network namespace {simnet.ns['evse']} does not exist (here: lo, plc0)"


@needs_root
def test_interface_down_skips_with_the_command_that_fixes_it(simnet):
    subprocess.run(["ip", "-n", simnet.ns["evse"], "link", "set", "plc0", "down"], check=True)
    check = only_failure(checks_for(plc=raw(simnet)))
    assert check.action == "skip" and "is down" in check.message
    assert check.fix == f"ip -n {simnet.ns['evse']} link set plc0 up"


@needs_root
def test_silent_adaptor_skips():
    """A veth with carrier but nothing behind it: no adaptor answers VS_SW_VER."""
    a, b = f"ccsq{os.getpid() % 100000}a", f"ccsq{os.getpid() % 100000}b"
    subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
    try:
        for name in (a, b):
            subprocess.run(["ip", "link", "set", name, "up"], check=True)
        check = only_failure(checks_for(plc={"transport": "raw", "interface": a}))
        assert check.action == "skip"
        assert check.message.startswith(f"no HomePlug adaptor answered VS_SW_VER on {a} within TT_modem_response")
        assert f"ccs-hil modem list --iface {a}" in check.fix
    finally:
        subprocess.run(["ip", "link", "del", a], check=False)


@needs_root
def test_wrong_profile_aborts_with_the_pib_write_command(simnet):
    give_profile(simnet.line, "evse-modem", "pev")  # the adaptor was configured for a car
    check = only_failure(checks_for(plc=raw(simnet)))
    assert check.action == "abort"
    assert "PIB has SLAC role PEV, CCo selection 1, user HFID 'PEV'; the evse side needs the EVSE profile" in check.message
    assert check.fix == f"ip netns exec {simnet.ns['evse']} ccs-hil modem pib-write --profile evse --iface plc0"


@needs_root
def test_another_adaptor_or_firmware_aborts(simnet):
    check = only_failure(checks_for(plc=raw(simnet, modem_mac="00:b0:52:99:99:99")))
    assert check.action == "abort" and "the rig file names 00:b0:52:99:99:99" in check.message
    check = only_failure(checks_for(plc=raw(simnet, firmware=r"^MAC-QCA7000-")))
    assert check.action == "abort" and "does not match plc.firmware = '^MAC-QCA7000-'" in check.message


@needs_root
def test_without_cap_net_raw_the_plc_tests_skip_with_the_setcap_fix(simnet, tmp_path):
    """Root without CAP_NET_RAW in its bounding set (setpriv): the check says so, the test skips, nothing breaks."""
    if shutil.which("setpriv") is None:
        if os.environ.get("CCS_HIL_REQUIRE_ALL") == "1":
            pytest.fail("setpriv (util-linux) not installed (CCS_HIL_REQUIRE_ALL=1)")
        pytest.skip("setpriv (util-linux) not installed")
    rig = tmp_path / "raw.toml"
    rig.write_text(textwrap.dedent(f"""
        [rig]
        name = "raw"
        stack_role = "evse"
        [dut]
        kind = "vehicle"
        [plc]
        transport = "raw"
        interface = "{simnet.iface}"
        netns = "{simnet.ns['evse']}"
    """))
    (tmp_path / "test_uses_plc.py").write_text("def test_plc(bench):\n    bench.resource('plc')\n")
    result = subprocess.run(["setpriv", "--bounding-set", "-net_raw", sys.executable, "-m", "pytest",
                             "-p", "no:cacheprovider", "test_uses_plc.py", "--rig", str(rig), "-rs",
                             "--rootdir", str(tmp_path), "-c", os.devnull],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[SKIP ] plc evse (plc0 in " in result.stdout
    assert "raw sockets: this process lacks CAP_NET_RAW, so it cannot open raw sockets" in result.stdout
    assert "setcap cap_net_raw+ep" in result.stdout
    assert "1 skipped" in result.stdout and "needs plc: plc evse" in result.stdout


# --------------------------------------------------------------------------- CP instruments


def test_wrong_generator_aborts_naming_what_answered(sim_yaml):
    check = only_failure(checks_for(cp={"driver": "scpi", "resource": WRONG_IDN, "visa_library": sim_yaml}))
    assert check.action == "abort" and check.name == f"cp generator ({WRONG_IDN})"
    assert "*IDN? answered 'RIGOL TECHNOLOGIES,DG1022Z" in check.message
    assert "expected a Keysight 33500B/33600A-class function generator" in check.message


def test_the_right_dialect_accepts_that_rigol(sim_yaml):
    report = checks_for(cp={"driver": "scpi", "resource": "USB0::0x1AB1::0x0642::DG1ZA000000002::INSTR",
                            "visa_library": sim_yaml, "dialect": "rigol-dg"})
    assert all(c.ok for c in report.checks), report.lines()
    assert "*IDN? 'RIGOL TECHNOLOGIES,DG1062Z" in report.lines()[1]


def test_absent_generator_skips(sim_yaml):
    check = only_failure(checks_for(cp={"driver": "scpi", "resource": "USB0::0x0957::0x2807::MY99999999::INSTR",
                                        "visa_library": "@py"}))
    assert check.action == "skip" and check.need == "cp-generator" and "not found" in check.message


def test_wrong_measuring_instrument_aborts(sim_yaml):
    check = only_failure(checks_for(cp={"driver": "scpi", "resource": GOOD, "visa_library": sim_yaml, "measure": {
        "kind": "scope", "resource": "USB0::0x2A8D::0x1301::MY00000001::INSTR", "idn_pattern": "DSOX"}}))
    assert check.action == "abort" and "*IDN? answered 'Keysight Technologies,34461A" in check.message


@pytest.mark.parametrize(("options", "limits", "message"), [
    ({"high_v": 13.0}, {}, "cp.high_v = 13 V is outside IEC 61851-1's +12 V ± 0.6 V"),
    ({"low_v": -10.0}, {}, "cp.low_v = -10 V is outside IEC 61851-1's -12 V ± 0.6 V"),
    ({"amplifier_gain": 1.0}, {}, "the generator would have to output ±12 V (±12 V / cp.amplifier_gain = 1); "
                                  "a keysight-33500 generator makes ±10 V at most into high-Z"),
    ({}, {"max_current_a": 100.0}, "limits.max_current_a = 100 A: a PWM duty offers 80 A at most"),
])
def test_levels_outside_the_limits_abort_before_the_instrument_is_touched(sim_yaml, options, limits, message):
    tables = {"cp": {"driver": "scpi", "resource": GOOD, "visa_library": sim_yaml, **options}}
    if limits:
        tables["limits"] = limits
    check = only_failure(checks_for(**tables))
    assert check.action == "abort" and check.message == message


def test_board_without_the_rigs_circuit_aborts():
    with PtyCpBoard(CpBoardEmulator(side="evse")) as board:
        check = only_failure(checks_for(rig={"name": "t", "stack_role": "pev"}, dut={"kind": "charger"},
                                        cp={"driver": "serial", "port": board.port, "side": "pev"}))
    assert check.action == "abort"
    assert "the rig says side = 'pev' but the board has no PEV circuit (CAP? answered 'EVSE MEAS RELAY WDOG')" \
        in check.message


def test_board_watchdog_is_armed_and_reported():
    with PtyCpBoard(CpBoardEmulator(side="evse")) as board:
        session = SessionResources()
        rig = from_dict(rig_dict(cp={"driver": "serial", "port": board.port, "watchdog_s": 1.5}), "b.toml")
        report = startup.run(rig, session)
        assert all(c.ok for c in report.checks), report.lines()
        assert "watchdog: armed (1.5 ARMED), heartbeat every 0.375 s" in report.lines()[-1]
        assert board.emulator.watchdog_s == 1.5
        session.close_all()
        assert board.emulator.watchdog_s == 0 and not board.emulator.watchdog_tripped  # a clean end disarms it


# --------------------------------------------------------------------------- through pytest


def test_pytest_prints_the_checks_and_aborts_before_any_test(tmp_path, sim_yaml):
    rig = tmp_path / "wrong.toml"
    rig.write_text(textwrap.dedent(f"""
        [rig]
        name = "wrong"
        stack_role = "evse"
        [dut]
        kind = "vehicle"
        [cp]
        driver = "scpi"
        resource = "{WRONG_IDN}"
        visa_library = "{sim_yaml}"
    """))
    result = run_pytest("testcases/cp", "--rig", str(rig))
    assert result.returncode == 4, result.stdout + result.stderr
    assert "ccs-hil start-up checks (wrong):" in result.stdout
    assert f"[ABORT] cp generator ({WRONG_IDN}): " in result.stdout
    assert "ccs-hil: the bench does not match rig wrong" in result.stdout + result.stderr
    assert " passed" not in result.stdout and " failed" not in result.stdout


def test_the_sim_rig_has_nothing_to_check():
    result = run_pytest("testcases/cp", "--rig=sim", "-q")
    assert result.returncode == 0 and "start-up checks" not in result.stdout
