"""Our EVSE against our PEV over a real veth pair between two network namespaces (root): in process on one
runner (each node's sockets in its own namespace), and as the two CLI programs `ccs-hil evse` / `ccs-hil pev`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from harness.clock import MonotonicClock
from harness.runtime import Runner
from harness.runtime.kernel_ip import KernelIpPort
from harness.runtime.netns import VethPair
from stack.roles import Evse, Pev
from stack.sessions.config import EvseConfig, PevConfig
from stack.timers import SpecTimer
from tests.sessions.test_selfpair import FLOW

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, veth pairs)")
CLI = [sys.executable, "-m", "harness.cli"]
FAST = {"power": {"isolation_time": 0.3, "voltage_ramp": 2000}}


@pytest.fixture
def veth():
    with VethPair.build() as pair:
        yield pair


@pytest.mark.parametrize("protocol", ["din", "iso2-dc", "iso2-ac"])
def test_in_process_over_veth(veth, protocol):
    runner = Runner(MonotonicClock())
    evse = Evse(EvseConfig.for_protocol(protocol, control_pilot=False, **FAST))
    pev = Pev(PevConfig.for_protocol(protocol, control_pilot=False, charge_loops=10, cycle=0.02))
    evse_node, evse_port = KernelIpPort.make_node(runner, "evse", evse, veth.iface, netns=veth.ns["evse"])
    pev_node, pev_port = KernelIpPort.make_node(runner, "pev", pev, veth.iface, netns=veth.ns["pev"])
    try:
        assert runner.run(lambda: pev.done, SpecTimer("test bound", 30)).reached
    finally:
        evse_port.close()
        pev_port.close()
    assert pev.result.ok, pev.result
    assert evse.sessions_completed == 1
    found = pev.sdp.result
    assert found.ip == evse_node.ipv6 and 49152 <= found.port <= 65535
    sent_by_pev = [r.name[:-3] for r in runner.timeline.select(layer="exi") if r.src == pev_node.ipv6]
    collapsed = [n for i, n in enumerate(sent_by_pev) if i == 0 or sent_by_pev[i - 1] != n]
    assert collapsed == FLOW[protocol]


def run_cli(veth, protocol, *, evse_args=(), pev_args=(), json_out=False):
    evse_cmd = veth.command("evse", [*CLI, "evse", "--iface", veth.iface, "--protocol", protocol, "--no-slac",
                                     "--sessions", "1", "--set", "power.isolation_time=0.3", *evse_args]
                            + (["--json"] if json_out else []))
    # The EVSE writes to files, not pipes: nobody reads its output while the PEV runs (a full pipe would block it).
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        evse = subprocess.Popen(evse_cmd, stdout=out, stderr=err, text=True)
        try:
            time.sleep(0.5)  # the EVSE binds UDP 15118 first; the PEV would retry SDP anyway (250 ms)
            pev = subprocess.run(veth.command("pev", [*CLI, "pev", "--iface", veth.iface, "--protocol", protocol,
                                                      "--no-slac", "--charge-loops", "5", "--set", "cycle=0.02",
                                                      *pev_args] + (["--json"] if json_out else [])),
                                 capture_output=True, text=True, timeout=60)
            evse.wait(timeout=30)
        finally:
            if evse.poll() is None:
                evse.kill()
                evse.wait()
        out.seek(0)
        err.seek(0)
        return evse.returncode, out.read(), err.read(), pev


@pytest.mark.parametrize("protocol", ["din", "iso2-dc", "iso2-ac"])
def test_cli_evse_and_pev(veth, protocol):
    evse_rc, evse_out, evse_err, pev = run_cli(veth, protocol)
    assert pev.returncode == 0, pev.stderr + pev.stdout[-2000:]
    assert evse_rc == 0, evse_err + evse_out[-2000:]
    assert "session ended normally" in pev.stderr and "1 session(s) completed" in evse_err
    assert " ms  ResponseCode=OK" in pev.stdout  # name, ms since the request, key values
    assert "SessionStopRes" in evse_out


def test_cli_json_is_the_record_format_with_one_exi_record_per_message(veth):
    evse_rc, evse_out, _, pev = run_cli(veth, "iso2-dc", json_out=True)
    assert evse_rc == 0 and pev.returncode == 0
    for output, ours in ((evse_out, "to_dut"), (pev.stdout, "to_dut")):
        records = [json.loads(line) for line in output.splitlines()]
        assert records[0]["layer"] == "meta" and records[0]["clock"] == "monotonic"
        exi = [r for r in records if r["layer"] == "exi"]
        assert all({"t", "dir", "name", "src", "dst", "schema", "body"} <= set(r) for r in exi)
        names = [r["name"] for r in exi]
        assert names[0] == "supportedAppProtocolReq" and names[-1] == "SessionStopRes"
        assert len(names) == len([r for r in records if r["layer"] in ("exi", "v2gtp")])
        assert {r["schema"] for r in exi} == {"apphand", "iso2"}
        assert {r["dir"] for r in exi} == {"to_dut", "from_dut"}
        assert ours in {r["dir"] for r in exi}
    evse_records = [json.loads(line) for line in evse_out.splitlines()]
    first = next(r for r in evse_records if r["layer"] == "exi")
    assert first["dir"] == "from_dut" and first["name"] == "supportedAppProtocolReq"


def test_cli_pev_fails_with_the_reason_when_no_charger_answers(veth):
    pev = subprocess.run(veth.command("pev", [*CLI, "pev", "--iface", veth.iface, "--protocol", "din", "--no-slac",
                                              "--set", "sdp_max_requests=4"]), capture_output=True, text=True,
                         timeout=30)
    assert pev.returncode == 1
    assert "session failed [V2G2-161]: SDP: no SDP response after 4 requests" in pev.stderr


def test_cli_bad_interface_is_a_one_line_error():
    result = subprocess.run([*CLI, "evse", "--iface", "nope0", "--protocol", "din", "--no-slac"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.startswith("ccs-hil evse: interface 'nope0' does not exist")
    result = subprocess.run([*CLI, "pev", "--iface", "lo", "--protocol", "din", "--no-slac", "--set", "bogus=1"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "unknown setting(s) bogus" in result.stderr


@pytest.mark.parametrize("protocol", ["din", "iso2-ac"])
def test_cli_with_slac_first_over_emulated_modems(protocol):
    """Without --no-slac both programs run SLAC on the same interface first (simnet: emulated HomePlug modems
    between the namespaces, IP only after the match)."""
    from harness.netns import SimNet

    with SimNet.build(roles=("evse", "pev")) as net, tempfile.TemporaryFile("w+") as out:
        evse = subprocess.Popen(["ip", "netns", "exec", net.ns["evse"], *CLI, "evse", "--iface", net.iface,
                                 "--protocol", protocol, "--sessions", "1", "--json", "--set",
                                 "power.isolation_time=0.2"], stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(0.5)
            pev = subprocess.run(["ip", "netns", "exec", net.ns["pev"], *CLI, "pev", "--iface", net.iface,
                                  "--protocol", protocol, "--charge-loops", "3", "--json"],
                                 capture_output=True, text=True, timeout=120)
            evse.wait(timeout=30)
        finally:
            if evse.poll() is None:
                evse.kill()
                evse.wait()
        out.seek(0)
        evse_records = [json.loads(line) for line in out.read().splitlines() if line.startswith("{")]
    assert pev.returncode == 0 and evse.returncode == 0, pev.stderr
    records = [json.loads(line) for line in pev.stdout.splitlines()]
    names = [(r["layer"], r["name"]) for r in records]
    matched = names.index(("state", "slac_matched"))
    assert ("homeplug", "CM_SLAC_MATCH.REQ") in names[:matched]
    assert names.index(("sdp", "SDP.REQ")) > matched
    assert records[-1]["layer"] == "state" and records[-1]["name"] == "session_end" and records[-1]["body"]["ok"]
    assert ("state", "slac_matched") in [(r["layer"], r["name"]) for r in evse_records]
