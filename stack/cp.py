"""IEC 61851-1 control pilot (CP): states, voltage bands, PWM duty ↔ current, allowed transitions. Pure.

The EVSE drives the pilot through a 1 kΩ source resistor with +12 V (state X1) or a 1 kHz ±12 V square wave
(X2); the vehicle loads it with a diode and R2 = 2.74 kΩ (state B), switching in R3 for C (1.3 kΩ) or D (270 Ω).
The positive level the EVSE measures tells the state; the negative level proves the vehicle's diode is there; the
duty cycle tells the vehicle how much current it may draw, and 5 % means "digital communication required"
(ISO 15118 / DIN 70121 high-level communication).

Values are the working values of the project facts sheet (PROTOCOL.md §E, marked [common] there): IEC 61851-1
Annex A figures as widely reproduced in EVSE designs and open firmware, not read from the standard itself. The
transition table is our reading of the Annex A state diagram. Verify both before claiming formal conformance.

Nothing here does I/O or reads a clock: the harness measures (or simulates) volts and duty and asks this module
what they mean.
"""

from __future__ import annotations

from dataclasses import dataclass

from stack.timers import SpecTimer

STATES = ("A", "B", "C", "D", "E", "F")
INDETERMINATE = "?"  # a level between bands: no state can be claimed

MEANING = {
    "A": "no vehicle connected",
    "B": "vehicle connected, not ready for energy transfer",
    "C": "vehicle ready, energy transfer allowed (no ventilation)",
    "D": "vehicle ready, energy transfer with ventilation",
    "E": "CP shorted to PE, or EVSE disconnected / no supply",
    "F": "EVSE not available (−12 V)",
}

# ----------------------------------------------------------------------------------------------- circuit

GENERATOR_HIGH_V = 12.0
GENERATOR_LOW_V = -12.0
GENERATOR_TOLERANCE_V = 0.6
SOURCE_RESISTANCE_OHM = 1000.0
SOURCE_RESISTANCE_TOLERANCE = 0.03
R2_OHM = 2740.0  # vehicle, always in circuit when connected (state B)
R3_C_OHM = 1300.0  # switched in parallel for state C: 2.74 kΩ ∥ 1.3 kΩ = 882 Ω
R3_D_OHM = 270.0  # switched in parallel for state D: 2.74 kΩ ∥ 270 Ω ≈ 246 Ω
DIODE_DROP_V = 0.7  # typical silicon diode; not a figure of the standard, but it is what puts B at 9.0 V

PWM_FREQUENCY_HZ = 1000.0
PWM_FREQUENCY_TOLERANCE = 0.02  # ±2 %
PULSE_WIDTH_TOLERANCE_S = 5e-6  # ±5 µs
DUTY_TOLERANCE_PERCENT = PULSE_WIDTH_TOLERANCE_S * PWM_FREQUENCY_HZ * 100  # = ±0.5 % of duty at 1 kHz
DIGITAL_COMMUNICATION_DUTY = 5.0


def parallel(*ohms: float) -> float:
    return 1.0 / sum(1.0 / r for r in ohms)


VEHICLE_LOAD_OHM = {"B": R2_OHM, "C": parallel(R2_OHM, R3_C_OHM), "D": parallel(R2_OHM, R3_D_OHM)}


@dataclass(frozen=True)
class Band:
    """Detection band of the positive pilot level (volts, inclusive) and its nominal value."""

    low: float
    high: float
    nominal: float

    def __contains__(self, volts: float) -> bool:
        return self.low <= volts <= self.high


BANDS = {
    "A": Band(11.0, 13.0, 12.0),
    "B": Band(8.0, 10.0, 9.0),
    "C": Band(5.0, 7.0, 6.0),
    "D": Band(2.0, 4.0, 3.0),
    "E": Band(-1.0, 1.0, 0.0),
    "F": Band(-13.0, -11.0, -12.0),
}
NEGATIVE_BAND = BANDS["F"]  # with PWM on, the negative half must sit at −12 V: the vehicle's diode blocks it


def classify_level(volts: float) -> str:
    """The state letter whose band holds this positive-half level, or `INDETERMINATE`."""
    for state, band in BANDS.items():
        if volts in band:
            return state
    return INDETERMINATE


@dataclass(frozen=True)
class CpReading:
    """What the pilot shows: state letter (or "?"), duty in percent (None = no PWM, X1), the positive (`high`) and
    negative (`low`, PWM only) levels in volts, the PWM frequency, and a `fault` the levels reveal."""

    state: str
    duty: float | None
    high: float
    low: float | None = None
    frequency: float | None = None
    fault: str | None = None  # "diode" (negative half not at −12 V), "level" (between bands), "frequency"

    @property
    def substate(self) -> str:
        """A1/B2/... : suffix 1 = steady level (oscillator X1), 2 = PWM on (X2). E and F have no suffix."""
        if self.state in ("E", "F", INDETERMINATE):
            return self.state
        return f"{self.state}{1 if self.duty is None else 2}"

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"state": self.state, "duty": self.duty, "volts": round(self.high, 3)}
        if self.low is not None:
            out["low"] = round(self.low, 3)
        if self.frequency is not None:
            out["frequency"] = self.frequency
        if self.fault is not None:
            out["fault"] = self.fault
        return out


def classify(high: float, low: float | None = None, duty: float | None = None,
             frequency: float | None = None) -> CpReading:
    """Classify measured levels. `duty` None (or ≥ 100) means a steady level; with PWM the negative half is checked
    for the diode and the frequency against 1 kHz ± 2 %."""
    if duty is not None and (duty >= 100.0 or duty <= 0.0):
        duty = None
    state = classify_level(high)
    fault = None
    if state == INDETERMINATE:
        fault = "level"
    elif duty is not None and low is not None and low not in NEGATIVE_BAND and state in ("B", "C", "D"):
        fault = "diode"
    elif duty is not None and frequency is not None and not frequency_ok(frequency):
        fault = "frequency"
    return CpReading(state, duty, high, low, frequency, fault)


def frequency_ok(hz: float) -> bool:
    return abs(hz - PWM_FREQUENCY_HZ) <= PWM_FREQUENCY_HZ * PWM_FREQUENCY_TOLERANCE


# ----------------------------------------------------------------------------------------------- duty ↔ current


@dataclass(frozen=True)
class DutyMeaning:
    """How a vehicle reads a duty cycle (IEC 61851-1 Table A.8 as reproduced in [common]).

    `kind`: "x1" (no PWM), "digital" (3–7 %: digital communication required, nominal 5 %), "current"
    (`amps` may be drawn), "forbidden" (< 3 %, 7–8 %, > 97 %: no charging)."""

    kind: str
    amps: float | None = None


def interpret_duty(duty: float | None) -> DutyMeaning:
    if duty is None or duty >= 100.0:
        return DutyMeaning("x1")
    if duty < 3.0:
        return DutyMeaning("forbidden")
    if duty <= 7.0:
        return DutyMeaning("digital")
    if duty < 8.0:
        return DutyMeaning("forbidden")
    if duty < 10.0:
        return DutyMeaning("current", 6.0)
    if duty <= 85.0:
        return DutyMeaning("current", duty * 0.6)
    if duty <= 96.0:
        return DutyMeaning("current", (duty - 64.0) * 2.5)
    if duty <= 97.0:
        return DutyMeaning("current", 80.0)
    return DutyMeaning("forbidden")


def current_for_duty(duty: float | None) -> float | None:
    """Maximum current a vehicle may draw at this duty, None when the duty allows no basic charging."""
    return interpret_duty(duty).amps


def duty_for_current(amps: float) -> float:
    """The duty an EVSE signals for a maximum current (IEC 61851-1 Table A.7: 6–51 A → I / 0.6; 52.5–80 A →
    I / 2.5 + 64). Above 51 A up to 52.5 A no duty means exactly that current (85 % reads as 51 A, anything
    above 85 % as more than 52.5 A), so the EVSE signals 85 %: never more than it can deliver."""
    if 6.0 <= amps <= 51.0:
        return amps / 0.6
    if 51.0 < amps <= 52.5:
        return 85.0
    if 52.5 < amps <= 80.0:
        return amps / 2.5 + 64.0
    raise ValueError(f"{amps:g} A cannot be signalled by PWM (6–80 A)")


def is_digital_communication(duty: float | None) -> bool:
    """The vehicle's view: 3–7 % asks for digital communication."""
    return interpret_duty(duty).kind == "digital"


def duty_within_tolerance(measured: float | None, expected: float) -> bool:
    """Generated duty vs set duty: pulse width ±5 µs at 1 kHz, i.e. ±0.5 percentage points."""
    return measured is not None and abs(measured - expected) <= DUTY_TOLERANCE_PERCENT + 1e-9


# ----------------------------------------------------------------------------------------------- transitions

# Our reading of the Annex A state diagram. A vehicle reaches C or D only through B (it is connected, then it
# asks for energy); unplugging (→ A) may happen from any state; E and F can be entered from and left to any state
# (E: CP short or EVSE loss, F: EVSE not available; the way back goes to whatever the vehicle then presents).
ALLOWED_TRANSITIONS = frozenset(
    {("A", "B"), ("B", "A"), ("B", "C"), ("B", "D"), ("C", "B"), ("C", "D"), ("D", "B"), ("D", "C"),
     ("C", "A"), ("D", "A")}
    | {(s, x) for s in STATES for x in ("E", "F") if s != x}
    | {(x, s) for x in ("E", "F") for s in STATES if s != x}
)


def transition_allowed(before: str, after: str) -> bool:
    """Whether the pilot may go from `before` to `after` (same state is not a transition and is allowed)."""
    return before == after or (before, after) in ALLOWED_TRANSITIONS


def transition_problem(before: str, after: str) -> str | None:
    """None when allowed, else why not (for assertion messages)."""
    if transition_allowed(before, after):
        return None
    if INDETERMINATE in (before, after):
        return f"{before}→{after}: the pilot level was between bands"
    return f"{before}→{after} is not an IEC 61851-1 transition (a vehicle reaches C/D only through B)"


# ----------------------------------------------------------------------------------------------- timers

# IEC 61851-1 reaction times as listed in PROTOCOL.md §E/§E.1 ([common]/[unverified] there).
T_EVSE_deenergise = SpecTimer("T_EVSE_deenergise", 0.1,
                              "IEC 61851-1 [common]: EVSE de-energises ≤ 100 ms after C→B, unplugging or E/F")
T_EVSE_energise = SpecTimer("T_EVSE_energise", 3.0, "IEC 61851-1 [common]: EVSE energises ≤ 3 s after B→C")
T_EV_follow_duty = SpecTimer("T_EV_follow_duty", 5.0, "IEC 61851-1 [common]: EV follows a lower duty within 5 s")
T_EV_C_after_X1 = SpecTimer("T_EV_C_after_X1", 6.0,
                            "IEC 61851-1:2017 Table A.6 Seq 10.2: the EVSE opens its relay ≥ 6 s after stopping "
                            "PWM if the EV stays in C, so the EV is expected back in B within that time")
T_step_EF = SpecTimer("T_step_EF", 4.0, "ISO 15118-3: minimum time in state E/F for retries and wake-up")
# ccs-hil working values where the standard sets no number (documented in testcases/requirements.csv).
T_EV_C_after_PWM = SpecTimer("T_EV_C_after_PWM", 5.0,
                             "ccs-hil working value (CCSHIL-CP-EV-04): a vehicle that wants energy closes S2 "
                             "within the time it is given to follow a duty change")
T_EVSE_PWM_off_after_A = SpecTimer("T_EVSE_PWM_off_after_A", 0.1,
                                   "ccs-hil working value (CCSHIL-CP-SE-04), after the [common] 100 ms "
                                   "de-energise time")
T_EVSE_PWM_after_B = SpecTimer("T_EVSE_PWM_after_B", 3.0,
                               "ccs-hil working value (CCSHIL-CP-SE-02): time for an EVSE to start PWM after B")
