"""Configuration of our EVSE and PEV session machines, buildable from a dict (rig file, test, CLI).

`EvseConfig.for_protocol("iso2-ac")` / `PevConfig.for_protocol("din")` give the CLI's presets; every field can be
overridden from a dict, e.g. `EvseConfig.from_dict({"authorization_time": 3, "power": {"isolation_result": "Fault"}})`.
Unknown keys raise `ValueError` naming them, so a typo in a rig file does not pass silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from stack.sessions.physics import BatteryConfig, PowerStageConfig

PROTOCOL_CHOICES = ("din", "iso2-dc", "iso2-ac")


def _build(cls: type, values: dict[str, Any] | None, nested: dict[str, type]) -> Any:
    values = dict(values or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    for key, kind in nested.items():
        if isinstance(values.get(key), dict):
            values[key] = kind.from_dict(values[key])
    for key, value in list(values.items()):
        if isinstance(value, list):
            values[key] = tuple(value)
    return cls(**values)


@dataclass
class EvseConfig:
    protocols: tuple[str, ...] = ("iso2", "din")  # supported, our preference order
    energy_modes: tuple[str, ...] = ("DC_extended",)  # offered in ServiceDiscoveryRes
    evse_id: str = "DE*CCS*E00001*1"
    payment_options: tuple[str, ...] = ("ExternalPayment",)
    free_service: bool = False
    authorization_time: float | None = 0.0  # EIM: Ongoing this long; None = until Command("authorize")
    charge_parameter_time: float = 0.0  # ChargeParameterDiscovery Ongoing this long
    pmax_w: float | None = None  # PMaxSchedule; None = the power stage's max power
    schedule_duration: int = 86400
    sa_schedule_tuple_id: int = 1
    notification_max_delay: int = 0
    receipt_required: bool = False
    close_on_failed: bool = True  # [V2G2-539], [V2G-DC-665]
    session_id: str | None = None  # test seam: assign exactly this SessionID (replays); None = random
    control_pilot: bool = True  # drive the CP oscillator (needs a CP port)
    cp_detection: bool = True  # CableCheck and PowerDeliveryRes(Start) wait for the pilot in C/D (when it is known)
    sequence_timeout: float | None = None  # s instead of V2G_SECC_Sequence_Timeout (only to make a faulty DUT)
    tcp_port: int = 0  # 0 = a free dynamic port 49152-65535
    power: PowerStageConfig = field(default_factory=PowerStageConfig)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> EvseConfig:
        return _build(cls, values, {"power": PowerStageConfig})

    @classmethod
    def for_protocol(cls, protocol: str, **overrides: Any) -> EvseConfig:
        if protocol not in PROTOCOL_CHOICES:
            raise ValueError(f"protocol {protocol!r}: choose one of {', '.join(PROTOCOL_CHOICES)}")
        preset: dict[str, Any] = {
            "din": {"protocols": ("din",), "energy_modes": ("DC_extended",)},
            "iso2-dc": {"protocols": ("iso2",), "energy_modes": ("DC_extended", "DC_core")},
            "iso2-ac": {"protocols": ("iso2",), "energy_modes": ("AC_three_phase_core", "AC_single_phase_core")},
        }[protocol]
        return replace(cls.from_dict(overrides), **preset)


@dataclass
class PevConfig:
    protocols: tuple[str, ...] = ("iso2", "din")  # offered, Priority 1..n in this order
    energy_mode: str = "DC_extended"
    payment_option: str = "ExternalPayment"
    evcc_id: str | None = None  # None = our MAC
    cycle: float = 0.1  # s between requests in ↻ loops (Ioniq capture: about 100 ms)
    charge_loops: int | None = None  # stop charging after this many charge-loop exchanges
    charge_time: float | None = None  # ... or after this long in the charge loop
    precharge_tolerance: float = 10.0  # V: |EVSEPresentVoltage − EVTargetVoltage| that ends PreCharge
    welding_detection: bool = True
    welding_voltage: float = 20.0  # V below which WeldingDetection is done
    welding_max_requests: int = 50
    request_service_detail: bool = False  # ISO-2: ServiceDetailReq for the charge service
    max_entries_sa_schedule_tuple: int | None = None
    departure_time: int | None = None
    charging_profile: bool = True  # send a ChargingProfile following the PMaxSchedule
    control_pilot: bool = True  # switch the CP load (needs a CP port)
    sdp_security: str = "none"  # "none" | "tls" (we do not do TLS: a TLS-only SECC fails SDP)
    sdp_max_requests: int = 50  # SDP_MAX_REQUEST_COUNTER [V2G2-161]; fewer only to fail fast in tests
    resume_session_id: str | None = None  # SessionSetupReq with this ID (resume after a pause)
    # Multiplies every V2G_EVCC_Msg_Timeout. Only for slow reference simulators (Josev's Java EXI codec answers
    # CurrentDemandReq in 150-400 ms); conformance tests keep 1.0. Timer names show the factor ("4×...").
    msg_timeout_scale: float = 1.0
    loop_timeout_scale: float = 1.0  # multiplies the loop timers (CableCheck, PreCharge, ...); only for faulty DUTs
    failed_retry: bool = False  # repeat a request answered FAILED_* instead of ending (only for faulty DUTs)
    battery: BatteryConfig = field(default_factory=BatteryConfig)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> PevConfig:
        return _build(cls, values, {"battery": BatteryConfig})

    @classmethod
    def for_protocol(cls, protocol: str, **overrides: Any) -> PevConfig:
        if protocol not in PROTOCOL_CHOICES:
            raise ValueError(f"protocol {protocol!r}: choose one of {', '.join(PROTOCOL_CHOICES)}")
        preset: dict[str, Any] = {
            "din": {"protocols": ("din",), "energy_mode": "DC_extended"},
            "iso2-dc": {"protocols": ("iso2",), "energy_mode": "DC_extended"},
            "iso2-ac": {"protocols": ("iso2",), "energy_mode": "AC_three_phase_core"},
        }[protocol]
        return replace(cls.from_dict(overrides), **preset)

    @property
    def energy(self) -> str:
        return "AC" if self.energy_mode.startswith("AC") else "DC"
