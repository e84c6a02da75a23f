"""What the in-process and the simnet PLC links share: the emulated powerline built from rig options.

    [plc.emulator]               harness.sim.modem.Powerline settings (latency, join_delay, ...)
    [[plc.attenuation]]          coupling between two modems, by modem name (a side name, or a node name for
    between = ["evse", "pev"]    extra nodes such as a second EVSE): a flat `db`, or `groups` = 58 per-group
    db = 30.0                    values (cross-talk staging)
    [[plc.faults]]               faults present from the start (harness.sim.modem.Fault fields; mmtype by name)
    kind = "drop"
    mmtype = "CM_SLAC_MATCH.REQ"
    count = 2

`profiles = true` (default) gives each emulated adaptor the PIB profile of its side (user HFID, CCo selection,
SLAC role — what `ccs-hil modem pib-write --profile` writes), as a correctly configured bench has; `false` leaves
the factory PIB, for tests of the start-up check that catches a wrongly configured adaptor.
"""

from __future__ import annotations

from typing import Any

from harness.options import Opt
from harness.sim.modem import Fault, Powerline
from stack.homeplug import frames as f
from stack.homeplug import pib as pibmod

EMULATOR_OPTIONS = {
    "latency": Opt(float, default=0.0005, min=0, doc="s, host → line → host"),
    "join_delay": Opt(float, default=0.05, min=0, doc="s from the same NMK in both modems to the AVLN link"),
    "key_apply_delay": Opt(float, default=0.0, min=0, doc="s from CM_SET_KEY.CNF to the key being used"),
    "reset_time": Opt(float, default=0.2, min=0, doc="s a modem is silent after VS_RS_DEV"),
    "profile_groups": Opt(int, default=58, min=0, doc="CM_ATTEN_PROFILE.IND groups (0: TP-Link behaviour)"),
    "vendor_atten_ind": Opt(bool, default=False, doc="also send the Qualcomm 0xA14E indication per sound"),
    "default_attenuation": Opt(float, default=20.0, min=0, doc="dB between any two modems unless set per pair"),
}

_MMTYPES = {f.mme_name(base | suffix): base | suffix for base in f.BASE_NAMES for suffix in range(4)}

ATTENUATION_OPTIONS = {
    "between": Opt(list, required=True, items=str, doc="two modem names, e.g. [\"evse\", \"pev\"]"),
    "db": Opt(float, min=0, doc="flat attenuation in dB"),
    "groups": Opt(list, items=int, doc="58 per-group attenuation values (dB)"),
}
FAULT_OPTIONS = {
    "kind": Opt(str, required=True, choices=Fault.KINDS),
    "mmtype": Opt(str, doc="MME name, e.g. CM_SLAC_MATCH.REQ (absent: every frame)"),
    "modem": Opt(str, doc="the modem whose host would receive the frame (absent: any)"),
    "count": Opt(int, default=1, min=1, doc="how many frames it affects"),
    "seconds": Opt(float, default=0.0, min=0, doc="delay"),
    "mode": Opt(str, default="truncate", choices=("truncate", "flip"), doc="corrupt"),
    "db": Opt(float, default=0.0, doc="wrong_attenuation: reported instead of the true value"),
}
COMMON_OPTIONS = {
    "emulator": Opt(dict, default={}, schema=EMULATOR_OPTIONS, doc="harness.sim.modem.Powerline settings"),
    "attenuation": Opt(list, default=[], items=dict, schema=ATTENUATION_OPTIONS,
                       doc='[{between = ["evse", "pev"], db = 30.0}, ...]'),
    "faults": Opt(list, default=[], items=dict, schema=FAULT_OPTIONS,
                  doc='[{kind = "drop", mmtype = "CM_SLAC_MATCH.REQ", count = 2}, ...]'),
    "profiles": Opt(bool, default=True, doc="emulated adaptors carry their side's PIB profile"),
}


def mmtype_of(value: Any) -> int | None:
    if value is None or isinstance(value, int):
        return value
    if value in _MMTYPES:
        return _MMTYPES[value]
    raise ValueError(f"unknown MME name {value!r} (e.g. CM_SLAC_MATCH.REQ)")


def build_line(options: dict[str, Any]) -> Powerline:
    return Powerline(**options["emulator"])


def apply_settings(line: Powerline, options: dict[str, Any], label: str) -> None:
    """(Re)apply the rig's attenuation and faults; anything a test changed is replaced."""
    line.attenuation.clear()
    line.clear_faults()
    for entry in options["attenuation"]:
        a, b = entry["between"]
        value = entry["groups"] if entry.get("groups") is not None else entry.get("db")
        if value is not None:
            line.set_attenuation(modem_name(a), modem_name(b), value)
    for entry in options["faults"]:
        fields = {k: v for k, v in entry.items() if v is not None}
        fields["mmtype"] = mmtype_of(fields.get("mmtype"))
        if fields.get("modem"):
            fields["modem"] = modem_name(fields["modem"])
        line.add_fault(Fault(**fields))


def check_options(options: dict[str, Any]) -> list[tuple[str, str]]:
    """What the schema cannot say: (key path, problem) pairs."""
    problems = []
    for index, entry in enumerate(options.get("attenuation", [])):
        if len(entry.get("between") or []) != 2:
            problems.append((f"plc.attenuation[{index}].between", "expected two modem names"))
        if (entry.get("db") is None) == (entry.get("groups") is None):
            problems.append((f"plc.attenuation[{index}]", "give either db or groups"))
        groups = entry.get("groups")
        if groups is not None and len(groups) != 58:
            problems.append((f"plc.attenuation[{index}].groups", f"expected 58 values, got {len(groups)}"))
    for index, entry in enumerate(options.get("faults", [])):
        if entry.get("mmtype") is not None and entry["mmtype"] not in _MMTYPES:
            problems.append((f"plc.faults[{index}].mmtype", f"unknown MME name {entry['mmtype']!r} "
                             "(e.g. CM_SLAC_MATCH.REQ, CM_SET_KEY.REQ)"))
    return problems


def modem_name(name: str) -> str:
    """Emulated modems are named `<side or node>-modem`; rig files may give either form."""
    return name if name.endswith("-modem") else f"{name}-modem"


def give_profile(line: Powerline, modem: str, side: str) -> None:
    emulated = line.modems[modem]
    emulated.pib = pibmod.apply(emulated.pib, pibmod.PROFILES[side])
