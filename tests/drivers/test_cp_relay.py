"""The relay vehicle load (`[cp] driver = "relay"`) against a pyvisa-sim switch unit: states and faults become
relay patterns, read back channel by channel; safe opens every relay; a read-back the rig file does not expect
is caught at start-up."""

from __future__ import annotations

import pytest

from harness import startup
from harness.bench import Bench, SessionResources
from harness.drivers import InstrumentError
from tests.conftest import make_rig

UNIT = "USB0::0x0957::0x0507::MY00000011::INSTR"
SCOPE = "USB0::0x2A8D::0x1797::CN00000001::INSTR"
CHANNELS = {"present": 101, "c": 102, "d": 103, "no_diode": 104, "short": 105}


def relay_rig(sim_yaml, **options):
    table = {"driver": "relay", "resource": UNIT, "visa_library": sim_yaml, "timeout_ms": 300,
             "channels": CHANNELS, "closed_reply": "CLOS", "open_reply": "OPEN",
             "measure": {"kind": "scope", "resource": SCOPE}, **options}
    return make_rig(rig={"name": "relays", "clock": "monotonic", "stack_role": "pev"},
                    dut={"kind": "charger", "max_current_a": 16.0}, cp=table)


def closed(sim_yaml) -> set[str]:
    import pyvisa

    session = pyvisa.ResourceManager(sim_yaml).open_resource(UNIT, read_termination="\n", write_termination="\n")
    try:
        return {name for name, ch in CHANNELS.items() if session.query(f"ROUT:CLOS? (@{ch})").strip() == "CLOS"}
    finally:
        session.close()


def test_states_and_faults_are_relay_patterns(sim_yaml):
    with Bench(relay_rig(sim_yaml)) as bench:
        load = bench.cp_load
        assert {"cp-load", "cp-load-faults", "cp-pwm-measurement"} <= bench.capabilities
        for state, relays in (("B", {"present"}), ("C", {"present", "c"}), ("D", {"present", "d"}),
                              ("B", {"present"}), ("A", set())):
            load.set_state(state)
            assert closed(sim_yaml) == relays, state
        load.set_state("C")
        load.set_fault("no-diode")
        assert closed(sim_yaml) == {"present", "c", "no_diode"}
        reading = bench.measure_pilot()  # the scope on the pilot
        assert reading.duty == 5.0 and reading.state == "B"
    assert closed(sim_yaml) == set()  # safe: every relay open, asked of the instrument


def test_unexpected_read_back_is_an_error_and_aborts_at_start_up(sim_yaml):
    bench = Bench(relay_rig(sim_yaml, closed_reply="1", open_reply="0"))
    with pytest.raises(InstrumentError, match=r"channel 102 reads back 'OPEN' after opening it, expected '0'"):
        bench.cp_load.set_state("B")
    with pytest.raises(InstrumentError, match=r"could not make cp .* safe"):  # cannot be verified: said loudly
        bench.close()
    session = SessionResources()
    report = startup.run(relay_rig(sim_yaml, closed_reply="1", open_reply="0"), session)
    session.close_all()
    assert report.aborts and "channel 101 reads back 'OPEN' after opening it, expected '0'" in \
        report.aborts[0].message


def test_the_charger_templates_relay_alternative_is_a_valid_rig():
    """The commented `relay` block in rigs/charger.toml, uncommented in place of the serial board, loads."""
    import sys

    from harness.rig import from_dict
    from tests.conftest import REPO

    tomllib = __import__("tomllib") if sys.version_info >= (3, 11) else __import__("tomli")
    text = (REPO / "rigs" / "charger.toml").read_text()
    serial = text[text.index("[cp]\n"): text.index("# Without a serial board")]
    block = text[text.index("# [cp]\n"): text.index("\n\n[plc]")]
    relay = "\n".join(line[2:] for line in block.splitlines())
    rig = from_dict(tomllib.loads(text.replace(serial, "").replace(block, relay)), "charger+relay.toml")
    assert rig.section("cp").driver == "relay" and {"cp-load", "cp-load-faults", "cp-pwm-measurement"} <= \
        rig.capabilities()
