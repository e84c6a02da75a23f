"""Control pilot with high-level communication, charger under test (ISO 15118-2/-3, DIN 70121): the 5 % duty,
the pilot while a session is paused, and the wait for the vehicle's state C.

Precondition on real rigs: a CCS charger, idle; our car does SLAC where the rig's PLC link needs it.
"""

from __future__ import annotations

import pytest

from harness.catalogue import T_reaction
from stack import cp as iec
from stack.sessions import iso15118_2

pytestmark = pytest.mark.dut_role("evse")


@pytest.mark.requirement("V2G2-852")
@pytest.mark.fails_with("evse-hlc-duty-6")
def test_hlc_charger_keeps_5_percent_until_authorization(link):
    """A charger doing high-level communication signals 5 % (±0.5) from the vehicle's connection until the
    authorization is finished."""
    link.start("iso2-dc", slac=True)
    authorized = link.expect(lambda r: r.layer == "exi" and r.name == "AuthorizationRes" and
                             link.field(r, "EVSEProcessing") == "Finished", what="AuthorizationRes (Finished)")
    readings = [r for r in link.pilot_states(link.started_at) if link.index(r) < link.index(authorized)
                and (r.body or {}).get("duty") is not None]
    link.check(readings, "the charger never switched the PWM on before the authorization", mark=authorized)
    for record in readings:
        duty = (record.body or {}).get("duty")
        link.check(iec.duty_within_tolerance(duty, iec.DIGITAL_COMMUNICATION_DUTY),
                   f"duty {duty} % before the authorization finished, expected 5 % ± {iec.DUTY_TOLERANCE_PERCENT:g}",
                   mark=record)


@pytest.mark.requirement("V2G2-931")
@pytest.mark.fails_with("evse-hlc-duty-6")
def test_charger_signals_5_percent_or_a_nominal_duty_after_authorization(link):
    """After AuthorizationRes the charger signals a PWM of 5 % (±0.5) or a nominal duty (a current, 8–97 %)."""
    link.start("iso2-dc", slac=True)
    authorized = link.expect(lambda r: r.layer == "exi" and r.name == "AuthorizationRes" and
                             link.field(r, "EVSEProcessing") == "Finished", what="AuthorizationRes (Finished)")
    link.hold(T_reaction, "the pilot after the authorization")
    readings = link.pilot_states(link.index(authorized))
    current = readings[-1] if readings else next(
        (r for r in reversed(link.pilot_states(link.started_at)) if link.index(r) < link.index(authorized)), None)
    link.check(current is not None, "the pilot was measured", mark=authorized)
    assert current is not None
    for record in [current, *readings]:
        duty = (record.body or {}).get("duty")
        ok = duty is not None and (iec.duty_within_tolerance(duty, iec.DIGITAL_COMMUNICATION_DUTY)
                                   or iec.interpret_duty(duty).kind == "current")
        link.check(ok, f"pilot after AuthorizationRes: PWM {duty} % (expected 5 % or a nominal duty)", mark=record)


@pytest.mark.requirement("V2G3-M07-20")
@pytest.mark.fails_with("evse-pause-keeps-pwm")
@pytest.mark.needs("cp-measurement")  # it reads the pilot; without this a rig with no CP ran it to an IndexError
def test_charger_switches_the_oscillator_off_while_the_session_is_paused(link):
    """When the vehicle pauses the session (SessionStop Pause) the charger switches the PWM off (X1)."""
    link.start("iso2-dc", slac=None)
    link.expect("CurrentDemandRes", nth=2)
    link.command("pause")
    stop = link.expect_response("SessionStop")
    link.hold(T_reaction, "the charger switches the oscillator off")
    last = link.pilot_states(link.started_at)[-1]
    duty = (last.body or {}).get("duty")
    link.check(duty is None, f"pilot {T_reaction} after the paused SessionStopRes: PWM {duty} % (expected off, X1)",
               mark=last if link.index(last) > link.index(stop) else stop)


@pytest.mark.requirement("CCSHIL-CP-SE-10")
@pytest.mark.fails_with("evse-ignores-pilot")
def test_charger_refuses_power_delivery_when_the_pilot_stays_in_B(link):
    """When the pilot does not reach C/D after PowerDeliveryReq(Start) the charger answers with a FAILED code
    after at most V2G_SECC_CPState_Detection_Timeout, without starting power delivery."""
    link.start("iso2-ac", slac=None, pilot_max="B")
    request = link.expect("PowerDeliveryReq", what="the tester's PowerDeliveryReq(Start)")
    response = link.expect_response("PowerDelivery")
    timer = iso15118_2.V2G_SECC_CPState_Detection_Timeout
    elapsed = response.t - request.t
    link.check(str(link.code(response)).startswith("FAILED"),
               f"PowerDeliveryRes {link.code(response)} although the pilot stayed in "
               f"{link.pilot_at(response)}", mark=response)
    link.check(elapsed <= timer.seconds + T_reaction.seconds,
               f"PowerDeliveryRes came {elapsed:.3f} s after the request, allowed ≤ {timer} + {T_reaction}",
               mark=response)
