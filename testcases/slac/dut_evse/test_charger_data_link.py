"""ISO 15118-2/-3 data link, charger under test: a matched link on which the car never sets up a V2G session is a
data-link error (V2G_SECC_CommunicationSetup_Performance_Time); the charger leaves the network through
X1 → E/F → X1/X2.

Precondition on real rigs: a CCS charger, idle; our car's adaptor and CP load on its cable. Our car matches and then
stays silent (no SDP), so each test takes about 25 s.
"""

from __future__ import annotations

import pytest

from harness.catalogue import Fault, T_reaction
from harness.catalogue.link import T_pilot_jitter, T_slac
from stack.homeplug import timers as T
from stack.roles.evse import V2G_SECC_CommunicationSetup_Performance_Time as T_setup
from stack.timers import SpecTimer

pytestmark = pytest.mark.dut_role("evse")

SILENT_AFTER_SLAC = [Fault("SDP.REQ", "drop", times=None)]  # our car matches, then never asks for the charger
LINK_UP_SLACK_S = 0.1  # ccs-hil working value: our modem joins a moment after the charger sent CM_SLAC_MATCH.CNF
T_error_sequence = SpecTimer("V2G_SECC_CommunicationSetup_Performance_Time+T_step_X1+T_step_EF+T_EVSE_SLAC_init",
                             T_setup.seconds + T.T_step_X1.seconds + T.T_step_EF.seconds + 20.0,
                             "ccs-hil: the error sequence, then the charger back at 5 % well within its next wait")


def pwm(record) -> bool:
    return (record.body or {}).get("duty") is not None


def e_or_f(record) -> bool:
    return (record.body or {}).get("state") in ("E", "F")


def silent_car_matched(link):
    link.start("din", faults=SILENT_AFTER_SLAC)
    return link.expect_frame("CM_SLAC_MATCH.CNF", T_slac, what="the charger's CM_SLAC_MATCH.CNF")


def error_sequence(link, cnf):
    """The pilot changes after the match until the charger is back at PWM after leaving it (or `T_error_sequence`)."""
    def back_at_pwm() -> bool:
        changes = link.oscillator_changes(cnf)
        left = next((i for i, r in enumerate(changes) if not pwm(r)), None)
        return left is not None and any(pwm(r) for r in changes[left:])

    link.wait(back_at_pwm, T_error_sequence, "the charger's data-link error sequence")
    return link.oscillator_changes(cnf)


@pytest.mark.requirement("V2G2-723")
@pytest.mark.fails_with("evse-no-link-supervision")
def test_charger_reports_a_data_link_error_when_no_session_follows_the_match(link):
    """When no V2G session is set up within V2G_SECC_CommunicationSetup_Performance_Time (18 s) of the match, the
    charger gives the data link up (the pilot leaves the 5 % PWM) — and not before that time."""
    cnf = silent_car_matched(link)
    limit = SpecTimer("V2G_SECC_CommunicationSetup_Performance_Time+T_reaction", T_setup.seconds + T_reaction.seconds,
                      T_setup.source)
    link.wait(lambda: any(not pwm(r) for r in link.oscillator_changes(cnf)), limit, "the charger leaves 5 % PWM")
    left = next((r for r in link.oscillator_changes(cnf) if not pwm(r)), None)
    link.check(left is not None, f"the pilot within {limit} of CM_SLAC_MATCH.CNF, no V2G session: "
                                 f"{'left the PWM' if left else 'still 5 % PWM'}", mark=cnf)
    assert left is not None
    link.check(left.t - cnf.t >= T_setup.seconds - LINK_UP_SLACK_S,
               f"the charger gave the link up {left.t - cnf.t:.2f} s after CM_SLAC_MATCH.CNF (not before {T_setup})",
               mark=left)


@pytest.mark.requirement("V2G3-M07-05")
@pytest.mark.fails_with("evse-link-error-without-ef")
def test_charger_leaves_the_link_through_X1_then_E_F_then_back_to_PWM(link):
    """On a data-link error while at 5 % PWM (X2) the charger goes X2 → X1 → E/F → X1 or X2."""
    cnf = silent_car_matched(link)
    before = [r for r in link.pilot_states(link.started_at) if link.index(r) < link.index(cnf)][-1:]
    changes = before + error_sequence(link, cnf)
    shape = ["X2" if pwm(r) else ("E/F" if e_or_f(r) else "X1") for r in changes]
    wanted = ["X2", "X1", "E/F"]
    position, found = 0, []
    for index, name in enumerate(shape):
        if position < len(wanted) and name == wanted[position]:
            found.append(changes[index])
            position += 1
    complete = position == len(wanted) and any(s in ("X1", "X2") for s in shape[shape.index("E/F") + 1:]) \
        if "E/F" in shape else False
    link.check(complete, f"pilot after CM_SLAC_MATCH.CNF: {' → '.join(shape)} (expected X2 → X1 → E/F → X1/X2)",
               mark=changes[-1] if changes else cnf)


@pytest.mark.requirement("V2G3-M07-08")
@pytest.mark.fails_with("evse-slac-short-ef")
def test_charger_holds_E_F_for_T_step_EF_in_the_error_sequence(link):
    """In its data-link error sequence the charger holds E/F for at least T_step_EF (4 s)."""
    cnf = silent_car_matched(link)
    changes = error_sequence(link, cnf)
    start = next((i for i, r in enumerate(changes) if e_or_f(r)), None)
    link.check(start is not None, f"E/F in the error sequence: {'yes' if start is not None else 'none'}", mark=cnf)
    assert start is not None
    end = next((r for r in changes[start + 1:] if not e_or_f(r)), None)
    link.check(end is not None, "the charger left E/F again", mark=changes[start])
    assert end is not None
    held = end.t - changes[start].t
    link.check(held >= T.T_step_EF.seconds - T_pilot_jitter.seconds,
               f"E/F held {held:.2f} s (at least {T.T_step_EF}, measured ± {T_pilot_jitter})", mark=end)
