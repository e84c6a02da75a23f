"""The sim rig's pilot: circuit physics, the simulated car and charger on the virtual clock, stack nodes on the line."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from harness.bench import Bench
from harness.drivers.cp import CpSetting, SafetyLimitError
from harness.rig import load
from harness.runtime.runner import Node
from harness.sim.car_cp import CarCpLoad
from harness.sim.cp_line import SimCpLine
from stack import cp
from stack import sansio as io
from stack.timers import SpecTimer

T_test = SpecTimer("T_test", 10.0)


@pytest.fixture(scope="module")
def sim_rig():
    return load("sim")


def line_with(state="B", mode="dc", duty=None, **load_kw) -> cp.CpReading:
    load_ = CarCpLoad(**load_kw)
    load_.present(state)
    line = SimCpLine(None, load_)
    line.setting = CpSetting(mode, duty)
    return line.reading()


@pytest.mark.parametrize(("state", "volts"), [("A", 12.0), ("B", 8.98), ("C", 5.99), ("D", 2.93)])
def test_levels_come_out_of_the_circuit(state, volts):
    reading = line_with(state)
    assert reading.high == pytest.approx(volts, abs=0.01)
    assert reading.state == state


def test_pwm_negative_half_with_and_without_diode():
    good = line_with("C", "pwm", 26.7)
    assert good.low == pytest.approx(-12.0) and good.fault is None and good.substate == "C2"
    bad = line_with("C", "pwm", 26.7, diode=False)
    assert bad.low == pytest.approx(-5.62, abs=0.01) and bad.fault == "diode"


def test_short_to_pe_off_and_forced_states():
    assert line_with("C", "pwm", 50.0, short_to_pe=True).state == "E"
    assert line_with("B", "off").state == "E"
    assert line_with("B", "E").state == "E"
    assert line_with("B", "F").state == "F"  # the diode blocks: −12 V whatever the load
    assert line_with("B", "F", diode=False).state == "?"  # −5.6 V: divided by R2 without the diode


def test_sim_car_reacts_at_exact_virtual_times(sim_rig):
    with Bench(sim_rig, dut_role="pev") as bench:
        bench.cp.set_dc()
        assert bench.pilot_state == "B"
        bench.hold(SpecTimer("T_wait", 1.0))
        bench.cp.set_current(16)
        result = bench.wait_for(lambda: bench.pilot_state == "C", T_test)
        assert result.reached and result.elapsed == pytest.approx(0.25)  # the car's reaction_s
        bench.cp.set_dc()
        assert bench.wait_for(lambda: bench.pilot_state == "B", T_test).elapsed == pytest.approx(0.25)


def test_dut_fault_applies_to_the_simulated_car_only_on_its_role(sim_rig):
    with Bench(sim_rig, dut_role="pev", dut_faults={"no-diode"}) as bench:
        bench.cp.set_pwm(5.0)
        assert bench.pilot.fault == "diode"
    with Bench(sim_rig, dut_role="evse", dut_faults={"no-diode"}) as bench:
        bench.cp_load.set_state("B")
        bench.wait_for(lambda: bench.pilot.duty is not None, T_test)
        assert bench.pilot.fault is None


def test_sim_charger_follows_the_vehicle(sim_rig):
    with Bench(sim_rig, dut_role="evse") as bench:
        assert bench.pilot.substate == "A1"
        bench.cp_load.set_state("B")
        result = bench.wait_for(lambda: bench.pilot.duty is not None, T_test)
        assert result.elapsed == pytest.approx(0.2) and bench.pilot.duty == pytest.approx(cp.duty_for_current(16))
        bench.cp_load.set_state("A")
        assert bench.wait_for(lambda: bench.pilot.duty is None, T_test).elapsed == pytest.approx(0.02)


def test_generator_respects_the_rig_current_limit(sim_rig):
    with Bench(sim_rig, dut_role="pev") as bench:
        bench.cp.set_current(32)  # the sim rig allows 32 A
        with pytest.raises(SafetyLimitError, match="above the rig limit"):
            bench.cp.set_current(40)


# ----------------------------------------------------------------------------- stack nodes on the line


@dataclass
class EvseNode:
    """A toy EVSE endpoint: X1 at start, 5 % once it sees B, F when told."""

    seen: list = field(default_factory=list)

    def handle(self, event, now):
        if isinstance(event, io.Start):
            return [io.SetCpOscillator(None)]
        if isinstance(event, io.CpObserved):
            self.seen.append((now, event.state, event.duty))
            if event.state == "B" and event.duty is None:
                return [io.SetCpOscillator(5.0)]
        if isinstance(event, io.Command) and event.name == "error":
            return [io.SetCpOscillator(None, state="F")]
        return []

    def next_deadline(self):
        return None


@dataclass
class PevNode:
    """A toy PEV endpoint: plugs in (B) at start, asks for C 0.1 s after it sees 5 %."""

    seen: list = field(default_factory=list)
    deadline: float | None = None

    def handle(self, event, now):
        if isinstance(event, io.Start):
            return [io.SetCpLoad("B")]
        if isinstance(event, io.CpObserved):
            self.seen.append((now, event.state, event.duty))
            if event.duty == 5.0 and self.deadline is None and event.state == "B":
                self.deadline = now + 0.1
        if isinstance(event, io.Tick):
            self.deadline = None
            return [io.SetCpLoad("C")]
        return []

    def next_deadline(self):
        return self.deadline


def test_stack_nodes_drive_the_pilot_through_their_cp_ports(sim_rig):
    with Bench(sim_rig) as bench:  # no DUT role: both sides are ours
        evse = bench.add_node(Node("evse", EvseNode(), "02:00:00:00:00:01", "fe80::1"), attach={"cp": {"side": "evse"}})
        pev = bench.add_node(Node("pev", PevNode(), "02:00:00:00:00:02", "fe80::2"), attach={"cp": {"side": "pev"}})
        result = bench.wait_for(lambda: bench.pilot_state == "C", T_test)
        assert result.reached and result.elapsed == pytest.approx(0.1)
        bench.settle()  # deliveries due at this same instant
        assert (0.1, "C", 5.0) in evse.endpoint.seen and (0.0, "B", 5.0) in pev.endpoint.seen
        bench.runner.command("evse", "error")
        bench.wait_for(lambda: bench.pilot_state == "F", T_test)
        names = [(r.layer, r.name, r.src) for r in bench.timeline.events() if r.layer == "cp"]
        assert ("cp", "oscillator", "evse") in names  # the runner records the node's output
        assert ("cp", "oscillator", "cp-generator") in names  # and the instrument its action


def test_a_stack_node_replaces_the_simulated_dut_on_its_side(sim_rig):
    with Bench(sim_rig, dut_role="pev") as bench:
        bench.add_node(Node("pev", PevNode(), "02:00:00:00:00:02", "fe80::2"), attach={"cp": {"side": "pev"}})
        assert bench.cp_link.dut is None
        bench.cp.set_pwm(5.0)
        assert bench.wait_for(lambda: bench.pilot_state == "C", T_test).reached  # the node, not SimCar, said C
