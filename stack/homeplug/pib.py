"""The QCA parameter information block (PIB): the fields SLAC cares about, the role profiles, the checksum.

Offsets are those of open-plc-utils (`pib/pib.h` simple_pib, `setpib` addresses) and the role changes are the ones
the pyPLC README gives (after open-plc-utils docbook ch05s15, "configure a PEV/EVSE"):

    setpib X.pib 74 hfid "PEV" | "EVSE"        user HFID (64 bytes)
    setpib X.pib F4 byte 1 | 2                 CCo selection: 1 = never CCo (PEV), 2 = always CCo (EVSE)
    setpib X.pib 1653 byte 1 | 2               GreenPHY SLAC role: 1 = PEV, 2 = EVSE
    setpib X.pib 1C98 long 10240 long 102400   attenuation-related limits, same for both roles

The image checksum is open-plc-utils `checksum32`: the complement of the XOR of all 32-bit little-endian words,
computed with the CHECKSUM field (offset 8) zeroed; `checksum32` over a valid image (checksum included) is 0.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from stack.errors import MalformedInput

HEADER_LEN = 12
OFF_PIB_LENGTH = 4
OFF_CHECKSUM = 8
OFF_MAC = 0x0C
OFF_DAK = 0x12
OFF_MFG_HFID = 0x24
OFF_NMK = 0x64
OFF_USER_HFID = 0x74
OFF_AVLN_HFID = 0xB4
HFID_LEN = 64
OFF_CCO_SELECTION = 0xF4
OFF_SLAC_ROLE = 0x1653
OFF_ATTEN_LIMITS = 0x1C98
MIN_LENGTH = OFF_ATTEN_LIMITS + 8


@dataclass(frozen=True)
class Edit:
    offset: int
    data: bytes
    what: str


def _hfid(text: str) -> bytes:
    return text.encode("ascii").ljust(HFID_LEN, b"\x00")[:HFID_LEN]


PROFILES: dict[str, list[Edit]] = {
    role: [
        Edit(OFF_USER_HFID, _hfid(role.upper()), f'user HFID "{role.upper()}"'),
        Edit(OFF_CCO_SELECTION, bytes([cco]), f"CCo selection {cco}"),
        Edit(OFF_SLAC_ROLE, bytes([cco]), f"GreenPHY SLAC role {cco}"),
        Edit(OFF_ATTEN_LIMITS, struct.pack("<II", 10240, 102400), "attenuation limits 10240, 102400"),
    ]
    for role, cco in (("pev", 1), ("evse", 2))
}


def checksum32(data: bytes) -> int:
    """open-plc-utils checksum32: ~(XOR of the little-endian 32-bit words); trailing bytes are zero-padded."""
    padded = data + b"\x00" * (-len(data) % 4)
    acc = 0
    for (word,) in struct.iter_unpack("<I", padded):
        acc ^= word
    return ~acc & 0xFFFFFFFF


def pib_length(pib: bytes) -> int:
    return struct.unpack_from("<H", pib, OFF_PIB_LENGTH)[0]


def validate(pib: bytes, where: str = "PIB") -> None:
    if len(pib) < MIN_LENGTH:
        raise MalformedInput(where, len(pib), f"{len(pib)} bytes, a QCA7420 PIB with the GP fields has ≥ {MIN_LENGTH}")
    if pib_length(pib) != len(pib):
        raise MalformedInput(where, OFF_PIB_LENGTH, f"header PIBLENGTH {pib_length(pib)} ≠ image size {len(pib)}")
    if checksum32(pib) != 0:
        raise MalformedInput(where, OFF_CHECKSUM, "checksum32 does not verify")


def with_checksum(pib: bytes) -> bytes:
    image = bytearray(pib)
    struct.pack_into("<I", image, OFF_CHECKSUM, 0)
    struct.pack_into("<I", image, OFF_CHECKSUM, checksum32(bytes(image)))
    return bytes(image)


def apply(pib: bytes, edits: list[Edit]) -> bytes:
    image = bytearray(pib)
    for edit in edits:
        image[edit.offset: edit.offset + len(edit.data)] = edit.data
    return with_checksum(bytes(image))


def summary(pib: bytes) -> dict[str, object]:
    """The fields the `modem info` command shows."""
    def text(offset: int) -> str:
        return pib[offset: offset + HFID_LEN].split(b"\x00", 1)[0].decode("ascii", "replace")

    lo, hi = struct.unpack_from("<II", pib, OFF_ATTEN_LIMITS)
    return {
        "length": len(pib), "fw_version": pib[0], "pib_version": pib[1],
        "mac": ":".join(f"{b:02x}" for b in pib[OFF_MAC: OFF_MAC + 6]),
        "nmk": pib[OFF_NMK: OFF_NMK + 16].hex(), "mfg_hfid": text(OFF_MFG_HFID), "user_hfid": text(OFF_USER_HFID),
        "avln_hfid": text(OFF_AVLN_HFID), "cco_selection": pib[OFF_CCO_SELECTION], "slac_role": pib[OFF_SLAC_ROLE],
        "atten_limits": [lo, hi], "checksum_ok": checksum32(pib) == 0,
    }


def diff(old: bytes, new: bytes) -> list[tuple[int, bytes, bytes]]:
    """Changed byte ranges (offset, old, new), merged when adjacent; the checksum field shows up too."""
    out: list[tuple[int, bytes, bytes]] = []
    i = 0
    while i < min(len(old), len(new)):
        if old[i] != new[i]:
            j = i
            while j < min(len(old), len(new)) and old[j] != new[j]:
                j += 1
            out.append((i, old[i:j], new[i:j]))
            i = j
        else:
            i += 1
    return out


def factory_image(mac: bytes, nmk: bytes, length: int = 0x2000, hfid: str = "ccs-hil emulated QCA7420") -> bytes:
    """A PIB as a factory-fresh adaptor has it (HomePlug AV defaults), for the modem emulator."""
    if length < MIN_LENGTH:
        raise ValueError(f"PIB length must be ≥ {MIN_LENGTH}")
    image = bytearray(length)
    image[0], image[1] = 0x07, 0x05
    struct.pack_into("<H", image, OFF_PIB_LENGTH, length)
    image[OFF_MAC: OFF_MAC + 6] = mac
    image[OFF_MFG_HFID: OFF_MFG_HFID + HFID_LEN] = _hfid(hfid)
    image[OFF_NMK: OFF_NMK + 16] = nmk
    image[OFF_AVLN_HFID: OFF_AVLN_HFID + HFID_LEN] = _hfid("Intellon Enabled Network")
    return with_checksum(bytes(image))
