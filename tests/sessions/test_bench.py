"""Our stack on a Bench built from a rig file: the sim rig's [ip] fabric and simulated pilot, the DUT seat with
--dut-fault sets, and the kernel [ip] driver resolving real interfaces."""

from __future__ import annotations

import os

import pytest

from harness.bench import Bench
from harness.drivers import ResourceUnavailable
from harness.nodes import add_evse, add_pev
from harness.rig import from_dict, load
from stack.timers import SpecTimer

SESSION = SpecTimer("test session bound", 600)


@pytest.mark.parametrize("protocol", ["din", "iso2-dc", "iso2-ac"])
def test_sim_rig_our_pev_in_the_dut_seat(protocol):
    with Bench(load("sim"), dut_role="pev") as bench:
        evse = add_evse(bench, protocol=protocol)
        pev = add_pev(bench, protocol=protocol, dut=True, config={"charge_loops": 3})
        assert bench.wait_for(lambda: pev.done, SESSION).reached
        assert pev.result.ok and evse.sessions_completed == 1
        exi = bench.timeline.select(layer="exi")
        assert {r.dir for r in exi} == {"to_dut", "from_dut"}
        assert exi[0].name == "supportedAppProtocolReq" and exi[0].dir == "from_dut"
        pilot = [r.body["state"] for r in bench.timeline.select(layer="cp") if r.name.startswith("state")]
        assert "C" in pilot and pilot[-1] == "B"  # the simulated line solved our PEV's load switching


def test_sim_rig_dut_fault_sets_apply_to_the_dut_only():
    with Bench(load("sim"), dut_role="pev", dut_faults={"pev-wrong-session-id", "evse-slow-current-demand"}) as b:
        evse = add_evse(b, protocol="iso2-dc")
        pev = add_pev(b, protocol="iso2-dc", dut=True)
        b.wait_for(lambda: pev.done, SESSION)
        assert not pev.result.ok
        finding = b.timeline.select(name="peer_error", layer="state")[0]
        assert finding.body["requirement"] == "V2G2-460"  # our EVSE caught the DUT
        assert not evse.faults  # the EVSE set is for an EVSE DUT: not applied to the tester


def test_sim_rig_our_evse_in_the_dut_seat_with_a_behaviour_fault():
    with Bench(load("sim"), dut_role="evse", dut_faults={"evse-isolation-fault"}) as bench:
        evse = add_evse(bench, protocol="din", dut=True)
        pev = add_pev(bench, protocol="din")
        bench.wait_for(lambda: pev.done, SESSION)
        assert evse.config.power.isolation_result == "Fault"
        assert not pev.result.ok and "CableCheckRes FAILED" in pev.result.reason


def test_kernel_ip_driver_skips_with_the_reason_when_the_interface_is_missing():
    rig = from_dict({"rig": {"name": "t", "clock": "monotonic", "stack_role": "pev"},
                     "dut": {"kind": "charger", "name": "x"},
                     "ip": {"transport": "kernel", "interface": "nope0"}}, "test")
    with Bench(rig) as bench, pytest.raises(ResourceUnavailable, match="needs ip: interface 'nope0' does not exist"):
        add_pev(bench, protocol="din")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, veth pairs)")
def test_kernel_ip_driver_runs_a_session_between_namespaces():
    from harness.runtime.netns import VethPair

    with VethPair.build() as pair:
        rig = from_dict({"rig": {"name": "veth", "clock": "monotonic", "stack_role": "per-test"},
                         "dut": {"kind": "our-stack", "name": "our PEV"},
                         "ip": {"transport": "kernel", "interface": pair.iface, "evse_netns": pair.ns["evse"],
                                "pev_netns": pair.ns["pev"]}}, "test")
        with Bench(rig, dut_role="pev") as bench:
            add_evse(bench, protocol="iso2-dc", config={"power": {"isolation_time": 0.2}})
            pev = add_pev(bench, protocol="iso2-dc", dut=True, config={"charge_loops": 3, "cycle": 0.02})
            assert bench.wait_for(lambda: pev.done, SpecTimer("bound", 30)).reached
            assert pev.result.ok
            assert bench.runner.nodes["evse"].ipv6 != "fe80::e"  # the interface's own address


@pytest.mark.parametrize("protocol", ["din", "iso2-ac"])
def test_sim_rig_slac_then_session_through_the_emulated_modems(protocol):
    with Bench(load("sim"), dut_role="pev") as bench:
        evse = add_evse(bench, protocol=protocol, slac=True)
        pev = add_pev(bench, protocol=protocol, dut=True, slac=True, config={"charge_loops": 3})
        assert bench.wait_for(lambda: pev.done, SESSION).reached
        assert pev.result.ok and evse.slac.matched and pev.slac.matched
        matched = bench.timeline.select(name="slac_matched", layer="state")[0].t
        assert bench.timeline.select(name="SDP.REQ", layer="sdp")[0].t >= matched


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, veth pairs)")
def test_simnet_rig_slac_then_session_over_the_kernel():
    with Bench(load("simnet"), dut_role="pev") as bench:
        evse = add_evse(bench, protocol="iso2-dc", slac=True, config={"power": {"isolation_time": 0.2}})
        pev = add_pev(bench, protocol="iso2-dc", dut=True, slac=True, config={"charge_loops": 3, "cycle": 0.02})
        assert bench.wait_for(lambda: pev.done, SpecTimer("bound", 60)).reached
        assert pev.result.ok, pev.result
        assert evse.slac.matched and evse.sessions_completed == 1
