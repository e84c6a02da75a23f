"""Who is who on a captured link: the car (EV), the charger (EVSE) and the PLC modems, learnt from the messages.

A capture has no "DUT" and no `dir`; the protocol tells the roles: SLAC requests and SDP/V2G requests come from the
car, their answers from the charger (ISO 15118-3, -2), and frames only a modem emits (CM_SET_KEY.CNF,
CM_ATTEN_PROFILE.IND, Qualcomm VS_* confirmations) name the modems. `Parties` learns incrementally, so the live
sniffer labels lines as they come, and the offline decoder can label a capture from its start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EV, EVSE, MODEM = "EV", "EVSE", "modem"

# HomePlug MMTYPE -> the role that sends it (ISO 15118-3: the car starts, the charger answers)
SLAC_SENDER = {0x6064: "pev", 0x6065: "evse", 0x606A: "pev", 0x6076: "pev", 0x606E: "evse", 0x606F: "pev",
               0x6078: "pev", 0x6079: "evse", 0x607C: "pev", 0x607D: "evse"}
# sent by a modem to its host (or to everyone): confirmations of host requests and the modem's own indications
MODEM_SENT = {0x6009, 0x600D, 0x601D, 0x6086, 0xA001, 0xA01D, 0xA035, 0xA036, 0xA039, 0xA0B1, 0xA0B9, 0xA14E}
_ROLE_LABEL = {"pev": EV, "evse": EVSE}


def natural_sender(layer: str, name: str, mmtype: int | None) -> str | None:
    """`pev` / `evse` by protocol rule, `modem` for modem frames, or None."""
    if layer == "exi":
        if name.endswith("Req"):
            return "pev"
        if name.endswith("Res"):
            return "evse"
    elif layer == "sdp":
        return {"SDP.REQ": "pev", "SDP.RES": "evse"}.get(name)
    elif layer == "homeplug" and mmtype is not None:
        if mmtype in MODEM_SENT:
            return "modem"
        return SLAC_SENDER.get(mmtype)
    return None


def is_group(address: str | None) -> bool:
    if not address:
        return False
    address = address.lower()
    return address.startswith(("ff", "33:33:", "01:00:5e")) or address == "ff:ff:ff:ff:ff:ff"


@dataclass
class Parties:
    roles: dict[str, str] = field(default_factory=dict)  # address (MAC or IP) -> pev | evse | modem

    def learn(self, layer: str, name: str, src: str | None, dst: str | None, mmtype: int | None = None) -> None:
        role = natural_sender(layer, name, mmtype)
        if role is None:
            return
        if src and not is_group(src):
            self.roles.setdefault(src.lower(), role)
        if dst and not is_group(dst) and role in ("pev", "evse"):
            self.roles.setdefault(dst.lower(), "evse" if role == "pev" else "pev")

    def learn_record(self, record: Any) -> None:
        self.learn(record.layer, record.name, record.src, record.dst, record.mmtype)

    def role(self, address: str | None) -> str | None:
        return self.roles.get(address.lower()) if address else None

    def label(self, address: str | None) -> str:
        if not address:
            return "?"
        if is_group(address):
            return "all"
        role = self.role(address)
        if role == "modem":
            return MODEM
        return _ROLE_LABEL.get(role or "", address)

    def arrow(self, src: str | None, dst: str | None) -> str:
        return f"{self.label(src)}→{self.label(dst)}"

    def complete(self) -> bool:
        """Both the car and the charger have an address."""
        return {"pev", "evse"} <= set(self.roles.values())

    def addresses(self, role: str) -> list[str]:
        return [a for a, r in self.roles.items() if r == role]
