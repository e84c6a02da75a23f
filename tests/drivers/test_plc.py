"""PLC link drivers through the bench: our SLAC EVSE and PEV (stack/homeplug) attached with
`bench.add_node(..., attach={"plc": ...})` match on the sim rig (in-process modem emulator, virtual clock) and on
simnet (namespaces + veth + emulated modems, raw sockets, monotonic clock); `safe()` leaves the *emulated modems*
with fresh random keys (checked in the emulator, not in our variables)."""

from __future__ import annotations

import os

import pytest

from harness.bench import Bench, SessionResources
from harness.drivers import InstrumentError, RigMismatch
from harness.drivers.plc import PlcLinkError
from harness.rig import from_dict, load
from harness.runtime.runner import Node
from harness.sim.modem import Fault
from stack.homeplug import EvseSlac, EvseSlacConfig, PevSlac, PevSlacConfig
from stack.homeplug import frames as f
from stack.homeplug.timers import TT_matching_repetition
from tests.conftest import rig_dict

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, veth, raw sockets)")


def slac_pair(bench: Bench, with_cp: bool = False):
    """Our EVSE as tester and our PEV in the DUT seat, attached through the bench."""
    link = bench.resource("plc")
    evse = EvseSlac(EvseSlacConfig(wait_for_cp=with_cp))
    pev = PevSlac(PevSlacConfig(wait_for_cp=with_cp))
    evse_node = Node("evse", evse, *link.address("evse"))
    pev_node = Node("pev", pev, *link.address("pev"), role="dut")
    cp = {"cp": {"side": "evse"}} if with_cp else {}
    bench.add_node(evse_node, attach={"plc": {}, **cp})  # a tester takes our stack's side: evse (DUT is a pev)
    bench.add_node(pev_node, attach={"plc": {}, **({"cp": {"side": "pev"}} if with_cp else {})})
    return link, evse, pev


def matched(bench, evse, pev):
    result = bench.wait_for(lambda: evse.done and pev.done, TT_matching_repetition, "SLAC matched")
    assert result.reached and evse.matched and pev.matched, (evse.result, pev.result)
    assert evse.result.nmk == pev.result.nmk
    return result


def modem_keys(link, now: float = 1e9) -> dict[str, bytes]:
    """The keys the emulated modems use (asked of the emulator, once every pending CM_SET_KEY has applied)."""
    with link.emulator() as line:
        return {name: line.nmk(name, now) for name in line.modems}


# --------------------------------------------------------------------------- sim rig: in process, virtual clock


def test_slac_matches_through_the_bench_on_the_sim_rig():
    bench = Bench(load("sim"), dut_role="pev")
    link, evse, pev = slac_pair(bench)
    result = matched(bench, evse, pev)
    assert bench.clock.kind == "virtual" and 1.2 <= result.elapsed < 3.0  # TT_EV_atten_results dominates, exactly
    assert pev.result.peer_mac == link.address("evse")[0]
    with link.emulator() as line:
        assert line.same_network("evse-modem", "pev-modem", bench.clock.now())
        assert line.modems["evse-modem"].nmk == evse.result.nmk
    names = [r.name for r in bench.timeline.select(layer="homeplug")]
    assert "CM_SLAC_MATCH.CNF" in names and "CM_ATTEN_PROFILE.IND" in names
    assert {"plc", "plc-emulated", "plc-loopback"} <= bench.capabilities
    bench.close()
    keys = modem_keys(link)
    assert evse.result.nmk not in keys.values()  # neither modem keeps the session's key
    assert keys["evse-modem"] != keys["pev-modem"]  # and they no longer share one: no AVLN
    with link.emulator() as line:
        assert not line.same_network("evse-modem", "pev-modem", bench.clock.now() + 10)
    resets = bench.timeline.select(name="modem key reset")
    assert sorted(r.body["side"] for r in resets) == ["evse", "pev"] and all(r.body["ok"] for r in resets)


def test_slac_with_the_pilot_on_the_sim_rig():
    """The EVSE starts 5 % PWM when the vehicle side shows B; the PEV starts matching on it."""
    bench = Bench(load("sim"), dut_role="pev")
    link, evse, pev = slac_pair(bench, with_cp=True)
    bench.cp.set_dc()  # X1: +12 V, as a charger waits for a vehicle
    bench.cp_load.set_state("B")
    matched(bench, evse, pev)
    assert bench.pilot.duty == pytest.approx(5.0)
    bench.close()


def test_rig_file_attenuation_and_faults_reach_the_emulator():
    rig = from_dict(rig_dict(
        rig={"name": "plc-faults", "clock": "virtual", "stack_role": "per-test"},
        dut={"kind": "simulated"},
        cp={"driver": "sim"},
        plc={"transport": "inproc", "attenuation": [{"between": ["evse", "pev"], "db": 31.0}],
             "faults": [{"kind": "drop", "mmtype": "CM_SLAC_MATCH.REQ", "count": 2}]}), "plc-faults.toml")
    with Bench(rig, dut_role="pev") as bench:
        _, evse, pev = slac_pair(bench)
        matched(bench, evse, pev)
        assert pev.result.attenuation_db == pytest.approx(31.0)
        sends = [r.body["send"] for r in bench.timeline.select(name="slac_wait_match_cnf") if r.src == "pev"]
        assert sends == [1, 2, 3]  # two MATCH.REQs lost on the line, the third answered


def test_bad_plc_options_name_the_key():
    with pytest.raises(Exception) as info:
        from_dict(rig_dict(plc={"transport": "inproc", "faults": [{"kind": "drop", "mmtype": "CM_NOPE.REQ"}],
                                "attenuation": [{"between": ["evse"], "db": 3.0}]}), "bad.toml")
    text = str(info.value)
    assert "bad.toml: plc.faults[0].mmtype: unknown MME name 'CM_NOPE.REQ'" in text
    assert "bad.toml: plc.attenuation[0].between: expected two modem names" in text
    with pytest.raises(Exception, match=r"plc.faults\[0\].kind: \"melt\" is not one of"):
        from_dict(rig_dict(plc={"transport": "inproc", "faults": [{"kind": "melt"}]}), "bad.toml")


def test_attach_needs_a_side_when_the_rig_cannot_tell():
    bench = Bench(load("sim"))  # per-test rig, no DUT role: which side is a tester on?
    node = Node("x", PevSlac(PevSlacConfig(wait_for_cp=False)), "02:00:00:00:00:09", "fe80::9")
    with pytest.raises(PlcLinkError, match=r"say which side node 'x' is on"):
        bench.add_node(node, attach={"plc": {}})
    with pytest.raises(PlcLinkError, match=r"no 'car' side \(this link has evse, pev\)"):
        bench.resource("plc").attach(node, side="car")
    bench.close()


def test_a_second_evse_gets_its_own_modem_for_cross_talk():
    bench = Bench(load("sim"), dut_role="pev")
    link, evse, pev = slac_pair(bench)
    other = EvseSlac(EvseSlacConfig(wait_for_cp=False))
    bench.add_node(Node("evse2", other, "02:cc:00:00:00:1e", "fe80::1e"), attach={"plc": {"side": "evse"}})
    with link.emulator() as line:
        line.set_attenuation("evse2-modem", "pev-modem", 60.0)  # the neighbour's charger, further away
    matched(bench, evse, pev)
    assert pev.result.peer_mac == link.address("evse")[0]
    assert sorted(name for _, name in link.modems_in_use()) == ["evse-modem", "evse2-modem", "pev-modem"]
    bench.close()


# --------------------------------------------------------------------------- simnet: namespaces, veth, raw sockets


@needs_root
def test_slac_matches_through_the_bench_on_simnet_and_safe_resets_the_emulated_modems():
    session = SessionResources()
    try:
        bench = Bench(load("simnet"), dut_role="pev", session=session)
        link, evse, pev = slac_pair(bench)
        assert link.namespace("evse") != link.namespace("pev") and link.interface("pev") == "plc0"
        result = matched(bench, evse, pev)
        assert bench.clock.kind == "monotonic" and 1.2 < result.elapsed < 5.0
        assert pev.result.peer_mac == link.address("evse")[0]
        net = link.net
        with link.emulator() as line:
            assert line.same_network("evse-modem", "pev-modem", net.bridge.now())
        bench.close()
        keys = modem_keys(link)
        assert evse.result.nmk not in keys.values() and keys["evse-modem"] != keys["pev-modem"]
        assert net.bridge.error is None
        # the next test on the same session starts from the same state and matches again
        bench2 = Bench(load("simnet"), dut_role="pev", session=session)
        link2, evse2, pev2 = slac_pair(bench2)
        assert link2.net is net
        matched(bench2, evse2, pev2)
        bench2.close()
    finally:
        session.close_all()
    assert not os.path.exists(f"/run/netns/{net.ns['evse']}")


@needs_root
def test_simnet_faults_from_a_test_do_not_leak_into_the_next_one():
    session = SessionResources()
    try:
        bench = Bench(load("simnet"), dut_role="pev", session=session)
        link, evse, pev = slac_pair(bench)
        with link.emulator() as line:
            line.add_fault(Fault("ignore_set_key", mmtype=f.CM_SET_KEY | f.REQ, modem="pev-modem", count=None))
        with pytest.raises(InstrumentError, match=r"plc simnet pev modem pev: key reset failed \(no "
                                                  r"CM_SET_KEY.CNF from 00:b0:52:00:00:01 within"):
            bench.close()  # the PEV modem ignores CM_SET_KEY: its key reset fails, loudly
        failed = [r for r in bench.timeline.select(name="modem key reset") if not r.body["ok"]]
        assert [r.body["side"] for r in failed] == ["pev"] and "CM_SET_KEY.CNF" in failed[0].error
        with link.emulator() as line:
            assert line.faults == []  # closed: the rig's own settings are back
    finally:
        session.close_all()


@needs_root
def test_simnet_node_must_use_its_sides_mac():
    session = SessionResources()
    try:
        bench = Bench(load("simnet"), dut_role="pev", session=session)
        node = Node("evse", EvseSlac(EvseSlacConfig(wait_for_cp=False)), "02:00:00:00:00:01", "fe80::1")
        with pytest.raises(PlcLinkError, match=r"node 'evse' has MAC 02:00:00:00:00:01 but the evse side's "
                                               r"interface has 02:cc:00:00:00:0e"):
            bench.add_node(node, attach={"plc": {}})
        bare = Node("evse", EvseSlac(EvseSlacConfig(wait_for_cp=False)), "", "")
        bench.resource("plc").attach(bare)  # empty addresses are filled in from the side
        assert bare.mac == "02:cc:00:00:00:0e" and bare.ipv6.startswith("fe80::cc:ff:fe00:e")
        bench.close()
    finally:
        session.close_all()


@needs_root
def test_simnet_adaptor_without_its_role_profile_aborts_with_the_fix():
    rig = load("simnet")
    options = dict(rig.section("plc").options, profiles=False)
    data = rig_dict(rig={"name": "simnet-factory", "clock": "monotonic", "stack_role": "per-test"},
                    dut={"kind": "our-stack"}, plc={"transport": "simnet", **options})
    session = SessionResources()
    try:
        with pytest.raises(RigMismatch) as info:
            Bench(from_dict(data, "simnet-factory.toml"), dut_role="pev", session=session).resource("plc")
        text = str(info.value)
        assert "plc evse (plc0 in ccs-" in text and "PIB has SLAC role 0 (neither)" in text
        assert "the evse side needs the EVSE profile" in text
        assert "fix: ip netns exec ccs-" in text and "ccs-hil modem pib-write --profile evse --iface plc0" in text
    finally:
        session.close_all()


# --------------------------------------------------------------------------- raw: one adaptor on a named interface


@needs_root
def test_raw_link_on_an_interface_matches_a_car_behind_its_own_adaptor():
    """An ioniq-style rig (`transport = "raw"`, one adaptor, our EVSE) whose interface is a veth with an emulated
    adaptor behind it; the "car" is our PEV on the other emulated adaptor, outside the bench's link."""
    from harness.netns import SimNet
    from harness.runtime.raw_l2 import RawL2Port

    with SimNet.build() as net:
        for role in net.roles:  # adaptors configured for their role, as a bench owner does once
            from harness.drivers.powerline import give_profile
            give_profile(net.line, f"{role}-modem", role)
        rig = from_dict(rig_dict(plc={"transport": "raw", "interface": net.iface, "netns": net.ns["evse"]}),
                        "raw.toml")
        assert {"plc", "plc-hardware"} <= rig.capabilities() and "plc-loopback" not in rig.capabilities()
        with Bench(rig) as bench:
            link = bench.resource("plc")
            assert link.sides == ("evse",) and link.address("evse")[0] == net.mac["evse"]
            evse = EvseSlac(EvseSlacConfig(wait_for_cp=False))
            bench.add_node(Node("evse", evse, "", ""), attach={"plc": {}})
            pev = PevSlac(PevSlacConfig(wait_for_cp=False))
            car = bench.runner.add(Node("car", pev, net.mac["pev"], net.link_local("pev"), role="dut"))
            with net.inside("pev"):
                car_port = RawL2Port(bench.runner, car, net.iface)
            try:
                matched(bench, evse, pev)
            finally:
                car_port.close()
            sent = [r for r in bench.timeline.select(layer="homeplug") if r.dir == "to_dut"]
            assert any(r.name == "CM_ATTEN_CHAR.IND" for r in sent)  # the vehicle is external: direction is recorded
        assert net.line.nmk("evse-modem", 1e9) != evse.result.nmk  # safe(): the adaptor got a fresh key
        assert net.line.nmk("pev-modem", 1e9) == evse.result.nmk  # the car's adaptor is not ours to reset
