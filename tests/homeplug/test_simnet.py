"""SLAC over the real kernel: namespaces + veth + the emulated modems bridged by raw sockets, monotonic clock.
Also pyslac (EVSE) against our PEV, `ccs-hil modem` against the emulator, and the typed port errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hp_helpers import needs_root

from harness.clock import MonotonicClock
from harness.runtime import Node, Runner
from harness.runtime.raw_l2 import InterfaceNotFound, PrivilegeError, RawL2Port, open_l2_socket
from harness.sim.modem import Fault
from stack.homeplug import EvseSlac, EvseSlacConfig, PevSlac, PevSlacConfig
from stack.homeplug import frames as f
from stack.homeplug.timers import TT_EVSE_SLAC_init, TT_matching_repetition
from tests.conftest import require_refimpl

HERE = Path(__file__).parent


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def slac_on(net, evse_cfg=None, pev_cfg=None):
    runner = Runner(MonotonicClock())
    evse = runner.add(Node("evse", EvseSlac(evse_cfg or EvseSlacConfig(wait_for_cp=False)), net.mac["evse"],
                           net.link_local("evse")))
    pev = runner.add(Node("pev", PevSlac(pev_cfg or PevSlacConfig(wait_for_cp=False)), net.mac["pev"],
                          net.link_local("pev")))
    for role, node in (("evse", evse), ("pev", pev)):
        with net.inside(role):
            RawL2Port(runner, node, net.iface)
    return runner, evse.endpoint, pev.endpoint


@needs_root
def test_evse_vs_pev_on_simnet_and_cleanup():
    from harness.netns import SimNet

    with SimNet.build() as net:
        tag = net.tag
        assert f"ccs-{tag}-evse" in _namespaces()
        runner, evse, pev = slac_on(net)
        result = runner.run(lambda: evse.done and pev.done, TT_matching_repetition)
        assert result.reached and evse.matched and pev.matched, (evse.result, pev.result)
        assert evse.result.nmk == pev.result.nmk and pev.result.peer_mac == net.mac["evse"]
        assert net.line.same_network("evse-modem", "pev-modem", net.bridge.now())
        assert 1.2 < pev.result.duration < 3.0  # dominated by TT_EV_atten_results (1.2 s), real time
        assert net.bridge.error is None
        names = [r.name for r in runner.timeline.events() if r.layer == "homeplug"]
        assert "CM_ATTEN_PROFILE.IND" in names and "CM_SLAC_MATCH.CNF" in names
    assert f"ccs-{tag}-" not in _namespaces()


def udp_reaches(net, tries: int = 1, timeout: float = 1.0) -> bool:
    """UDP datagrams PEV → EVSE link-local port 15118 through the emulated modems (a real kernel path, including
    neighbour discovery); `tries` probes, each waiting `timeout` — bounded."""
    import socket

    with net.inside("evse"):
        rx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        rx.bind(("::", 15118))
    with net.inside("pev"):
        tx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        scope = socket.if_nametoindex(net.iface)
    try:
        rx.settimeout(timeout)
        for _ in range(tries):
            tx.sendto(b"probe", (net.link_local("evse"), 15118, 0, scope))
            try:
                return rx.recv(64) == b"probe"
            except TimeoutError:
                continue
        return False
    finally:
        rx.close()
        tx.close()


@needs_root
def test_simnet_faults_and_ip_only_after_match():
    from harness.netns import SimNet

    with SimNet.build() as net:
        with net.bridge.locked() as line:
            line.add_fault(Fault("drop", mmtype=f.CM_SLAC_MATCH | f.REQ, count=2))
        assert not udp_reaches(net)  # no AVLN yet: no IP
        runner, evse, pev = slac_on(net)
        runner.run(lambda: evse.done and pev.done, TT_matching_repetition)
        assert pev.matched and pev.result.attempts == 1
        sends = [r.body["send"] for r in runner.timeline.select(name="slac_wait_match_cnf") if r.src == "pev"]
        assert sends == [1, 2, 3]  # two lost on the line, the third answered
        assert udp_reaches(net, tries=6)  # the private network carries IPv6 (SDP's UDP) between the namespaces


@needs_root
def test_simnet_cleans_up_when_the_body_raises():
    from harness.netns import SimNet

    with pytest.raises(RuntimeError, match="boom"), SimNet.build() as net:
        tag = net.tag
        raise RuntimeError("boom")
    assert f"ccs-{tag}-" not in _namespaces()


@needs_root
def test_pyslac_evse_matches_our_pev_on_simnet():
    python = require_refimpl("pyslac")
    from harness.netns import SimNet

    with SimNet.build() as net:
        env = dict(os.environ, SLAC_INIT_TIMEOUT="20", LOG_LEVEL="INFO")
        proc = subprocess.Popen([*net.exec_args("evse"), python, str(HERE / "pyslac_evse_main.py"), net.iface, "40"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            ready = json.loads(proc.stdout.readline() or "{}")  # after pyslac's SET_KEY + 10 s settle time
            assert ready.get("event") == "ready", proc.stderr.read()[-2000:]
            runner = Runner(MonotonicClock())
            node = runner.add(Node("pev", PevSlac(PevSlacConfig(wait_for_cp=False)), net.mac["pev"],
                                   net.link_local("pev")))
            with net.inside("pev"):
                RawL2Port(runner, node, net.iface)
            runner.run(lambda: node.endpoint.done, TT_matching_repetition)
            pev = node.endpoint
            report = json.loads(proc.stdout.readline() or "{}")
            assert pev.matched, pev.result
            assert report.get("event") == "matched", report
            assert report["nmk"] == pev.result.nmk.hex() and report["nid"] == pev.result.nid.hex()
            assert report["pev_mac"] == net.mac["pev"].replace(":", "")
            assert report["run_id"] == pev.result.run_id.hex()
        finally:
            proc.kill()
            proc.wait(timeout=10)


def _cli(net, role: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*net.exec_args(role), sys.executable, "-m", "harness.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=str(HERE.parents[1]))


@needs_root
def test_modem_cli_against_the_emulator(tmp_path):
    from harness.netns import SimNet

    with SimNet.build() as net:
        listed = _cli(net, "evse", "modem", "list", "--iface", net.iface)
        assert listed.returncode == 0, listed.stderr
        evse_modem = net.line.modems["evse-modem"].mac
        assert evse_modem in listed.stdout and "QCA7420" in listed.stdout
        backup = tmp_path / "backup.pib"
        dry = _cli(net, "evse", "modem", "pib-write", "--iface", net.iface, "--profile", "evse", "--backup",
                   str(backup), "--dry-run")
        assert dry.returncode == 0 and "dry run" in dry.stdout and backup.stat().st_size == 8192
        assert net.line.modems["evse-modem"].pib == backup.read_bytes()  # nothing written
        wrote = _cli(net, "evse", "modem", "pib-write", "--iface", net.iface, "--profile", "evse", "--backup",
                     str(backup))
        assert wrote.returncode == 0, wrote.stdout + wrote.stderr
        assert "read-back verified" in wrote.stdout
        from stack.homeplug import pib

        assert pib.summary(net.line.modems["evse-modem"].pib)["user_hfid"] == "EVSE"
        info = _cli(net, "evse", "modem", "info", "--iface", net.iface)
        assert "pib.user_hfid     EVSE" in info.stdout and "pib.slac_role     2" in info.stdout
        key = _cli(net, "evse", "modem", "set-key", "--iface", net.iface, "--nmk", "11" * 16)
        assert "Result 0x01 (applied)" in key.stdout
        # slac via the CLI: EVSE in one namespace, PEV in the other
        evse = subprocess.Popen([*net.exec_args("evse"), sys.executable, "-m", "harness.cli", "slac", "--role",
                                 "evse", "--iface", net.iface, "--timeout", "20"], stdout=subprocess.PIPE, text=True,
                                cwd=str(HERE.parents[1]))
        pev = _cli(net, "pev", "slac", "--role", "pev", "--iface", net.iface, "--timeout", "20", "--json")
        out, _ = evse.communicate(timeout=60)
        assert pev.returncode == 0 and evse.returncode == 0, out
        records = [json.loads(line) for line in pev.stdout.splitlines()]
        assert records[0]["layer"] == "meta" and records[0]["clock"] == "monotonic"
        matched = next(r for r in records if r["name"] == "slac_matched")
        assert f"NID           {matched['body']['nid']}" in out and net.mac["pev"] in out


def test_typed_errors_for_a_missing_interface_and_missing_privileges():
    with pytest.raises(InterfaceNotFound, match="no-such-if0"):
        open_l2_socket("no-such-if0")
    if os.geteuid() != 0:
        with pytest.raises(PrivilegeError, match="root"):
            open_l2_socket("lo")
        return
    import shutil

    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) not installed: cannot drop root to test the privilege error")
    code = ("from harness.runtime.raw_l2 import open_l2_socket, PrivilegeError\n"
            "try:\n    open_l2_socket('lo')\nexcept PrivilegeError as e:\n    print('typed:', e)\n")
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
                         capture_output=True, text=True, cwd=str(HERE.parents[1]))
    assert "typed: raw Ethernet on 'lo': permission denied" in out.stdout, out.stderr


def test_cli_reports_a_missing_interface_as_one_line():
    out = subprocess.run([sys.executable, "-m", "harness.cli", "slac", "--role", "pev", "--iface", "no-such-if0"],
                         capture_output=True, text=True, cwd=str(HERE.parents[1]))
    assert out.returncode == 2 and "no-such-if0" in out.stderr and "Traceback" not in out.stderr


_ = TT_EVSE_SLAC_init
