"""HomePlug AV / Green PHY management messages (MMEs, ethertype 0x88E1) as scapy layers, parsed strictly.

Why scapy: declarative field lists that read like the standard's tables. Why not scapy's own dispatch: scapy's
dissector is lenient (a truncated frame silently yields short fields, and it rebuilds from a cache), and the
contrib layers register global bindings we partly override. So `parse_frame` reads the Ethernet/MME header itself,
picks the body layer from `BODIES` by MMTYPE, and checks lengths and counts, raising `MalformedInput` (or its
subclass `UnknownMessage`) that names the message and the byte offset.

Reuse and differences (each one pinned by a test in tests/homeplug/test_frames.py):
- reused unchanged from `scapy.contrib.homepluggp` where their layout equals the captured frames: CM_SLAC_PARM.CNF,
  CM_START_ATTEN_CHAR.IND, CM_MNBC_SOUND.IND, CM_ATTEN_CHAR.IND/.RSP, CM_SLAC_MATCH.REQ/.CNF, and
  CM_ATTEN_PROFILE.IND (scapy: `CM_ATTENUATION_CHARACTERISTICS_MME`); VS_RS_DEV from `homeplugav`.
- fixed: CM_SET_KEY.REQ/.CNF (scapy's PRN is big-endian; HomePlug fields are little-endian like MMTYPE),
  CM_SLAC_PARM.REQ (ISO 15118-3 CipherSuite extension when SecurityType = 1, absent in scapy),
  VS_SW_VER.CNF (scapy assumes a 64-byte version field; a real QCA7420 answers with a 297-byte frame, so the
  bytes after the version string are kept as an opaque tail), VS_MODULE_OPERATION (scapy models read/write only;
  the PIB write needs the start-session and commit operations of open-plc-utils).
- added: CM_VALIDATE, CM_AMP_MAP, CM_GET_KEY, VS_SW_VER.REQ, VS_PL_LNK_STATUS, VS_ATTEN_CHAR.IND (opaque).
- names follow the standard (`CM_ATTEN_CHAR.IND`, not scapy's `CM_ATTEN_CHAR_IN`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scapy.contrib.homeplugav import ResetDeviceConfirmation, ResetDeviceRequest
from scapy.contrib.homepluggp import (
    CM_ATTEN_CHAR_IND,
    CM_ATTEN_CHAR_RSP,
    CM_ATTENUATION_CHARACTERISTICS_MME,
    CM_MNBC_SOUND_IND,
    CM_SLAC_MATCH_CNF,
    CM_SLAC_MATCH_REQ,
    CM_SLAC_PARM_CNF,
    CM_START_ATTEN_CHAR_IND,
    SLAC_varfield,
    SLAC_varfield_cnf,
)
from scapy.fields import (
    ByteField,
    ConditionalField,
    FieldLenField,
    LEIntField,
    LELongField,
    LEShortField,
    MACField,
    PacketListField,
    StrField,
    StrFixedLenField,
    StrLenField,
    XIntField,
)
from scapy.packet import Packet, Raw

from stack.errors import MalformedInput

ETHERTYPE_HOMEPLUG = 0x88E1
MMV_HOMEPLUG_AV11 = 0x01  # standard MMEs (HomePlug AV 1.1 / GP)
MMV_VENDOR = 0x00  # Qualcomm vendor-specific MMEs carry MMV 0 and an OUI instead of the fragment info
QUALCOMM_OUI = bytes.fromhex("00b052")
QUALCOMM_LOCAL_MAC = "00:b0:52:00:00:01"  # "the local modem", whatever its own MAC is (QCA firmware)
BROADCAST = "ff:ff:ff:ff:ff:ff"
ETH_MIN_FRAME = 60  # without FCS
HEADER_STANDARD = 19  # 14 Ethernet + MMV + MMTYPE + FMI
HEADER_VENDOR = 20  # 14 Ethernet + MMV + MMTYPE + OUI

REQ, CNF, IND, RSP = 0, 1, 2, 3
SUFFIX = {REQ: "REQ", CNF: "CNF", IND: "IND", RSP: "RSP"}

# MMTYPE base values (low two bits zero); [PROTOCOL.md §A.2]
CM_SET_KEY = 0x6008
CM_GET_KEY = 0x600C
CM_AMP_MAP = 0x601C
CM_SLAC_PARM = 0x6064
CM_START_ATTEN_CHAR = 0x6068
CM_ATTEN_CHAR = 0x606C
CM_PKCS_CERT = 0x6070
CM_MNBC_SOUND = 0x6074
CM_VALIDATE = 0x6078
CM_SLAC_MATCH = 0x607C
CM_SLAC_USER_DATA = 0x6080
CM_ATTEN_PROFILE = 0x6084
VS_SW_VER = 0xA000
VS_RS_DEV = 0xA01C
VS_NW_INFO = 0xA038
VS_MODULE_OPERATION = 0xA0B0
VS_PL_LNK_STATUS = 0xA0B8
VS_ATTEN_CHAR = 0xA14C  # Qualcomm; the IND (0xA14E) is sent by the modem per received sound
VS_SNIFFER = 0xA034  # Qualcomm listen mode: the modem reports every PLC frame it hears as VS_SNIFFER.IND

BASE_NAMES = {
    CM_SET_KEY: "CM_SET_KEY", CM_GET_KEY: "CM_GET_KEY", CM_AMP_MAP: "CM_AMP_MAP", CM_SLAC_PARM: "CM_SLAC_PARM",
    CM_START_ATTEN_CHAR: "CM_START_ATTEN_CHAR", CM_ATTEN_CHAR: "CM_ATTEN_CHAR", CM_PKCS_CERT: "CM_PKCS_CERT",
    CM_MNBC_SOUND: "CM_MNBC_SOUND", CM_VALIDATE: "CM_VALIDATE", CM_SLAC_MATCH: "CM_SLAC_MATCH",
    CM_SLAC_USER_DATA: "CM_SLAC_USER_DATA", CM_ATTEN_PROFILE: "CM_ATTEN_PROFILE", VS_SW_VER: "VS_SW_VER",
    0xA008: "VS_RD_MEM", 0xA00C: "VS_ST_MAC", 0xA010: "VS_GET_NVM", VS_RS_DEV: "VS_RS_DEV", 0xA020: "VS_WR_MOD",
    0xA024: "VS_RD_MOD", 0xA028: "VS_MOD_NVM", 0xA030: "VS_LNK_STATS", VS_SNIFFER: "VS_SNIFFER", VS_NW_INFO: "VS_NW_INFO",
    0xA050: "VS_SET_KEY", 0xA058: "VS_RD_CBLOCK", 0xA060: "VS_HOST_ACTION", 0xA068: "VS_OP_ATTRIBUTES",
    0xA07C: "VS_FAC_DEFAULTS", VS_MODULE_OPERATION: "VS_MODULE_OPERATION", VS_PL_LNK_STATUS: "VS_PL_LNK_STATUS",
    VS_ATTEN_CHAR: "VS_ATTEN_CHAR",
}

DEVICE_IDS = {0x20: "QCA7420", 0x21: "QCA6410", 0x22: "QCA7000"}  # 0x20/0x22 as seen in the Compleo capture


class UnknownMessage(MalformedInput):
    """A well-formed HomePlug header whose MMTYPE this stack has no layout for."""


def mme_name(mmtype: int) -> str:
    """`CM_SLAC_PARM.REQ` style name; unknown types as `MME 0x6044`."""
    base = BASE_NAMES.get(mmtype & ~0x3)
    return f"{base}.{SUFFIX[mmtype & 0x3]}" if base else f"MME 0x{mmtype:04x}"


def is_vendor(mmtype: int) -> bool:
    return 0xA000 <= mmtype <= 0xBFFF


# --------------------------------------------------------------------------- fixed and added layers


class CmSetKeyReq(Packet):
    """CM_SET_KEY.REQ; as scapy's CM_SET_KEY_REQ but PRN little-endian."""

    name = "CM_SET_KEY.REQ"
    fields_desc = [ByteField("KeyType", 0x01), XIntField("MyNonce", 0), XIntField("YourNonce", 0),
                   ByteField("PID", 0x04), LEShortField("ProtoRunNumber", 0), ByteField("ProtoMessNumber", 0),
                   ByteField("CCoCapability", 0), StrFixedLenField("NetworkID", b"\x00" * 7, 7),
                   ByteField("NewEncKeySelect", 0x01), StrFixedLenField("NewKey", b"\x00" * 16, 16)]


class CmSetKeyCnf(Packet):
    """CM_SET_KEY.CNF; Result 0 = success per HomePlug, QCA modems answer 1 when they applied the key."""

    name = "CM_SET_KEY.CNF"
    fields_desc = [ByteField("Result", 0), XIntField("MyNonce", 0), XIntField("YourNonce", 0),
                   ByteField("PID", 0x04), LEShortField("ProtoRunNumber", 0), ByteField("ProtoMessNumber", 0),
                   ByteField("CCoCapability", 0)]


class CmGetKeyReq(Packet):
    name = "CM_GET_KEY.REQ"
    fields_desc = [ByteField("RequestType", 0), ByteField("RequestedKeyType", 0x01),
                   StrFixedLenField("NetworkID", b"\x00" * 7, 7), XIntField("MyNonce", 0), ByteField("PID", 0x04),
                   LEShortField("ProtoRunNumber", 0), ByteField("ProtoMessNumber", 0)]


class CmGetKeyCnf(Packet):
    name = "CM_GET_KEY.CNF"
    fields_desc = [ByteField("Result", 0), ByteField("RequestedKeyType", 0x01), XIntField("MyNonce", 0),
                   XIntField("YourNonce", 0), StrFixedLenField("NetworkID", b"\x00" * 7, 7),
                   ByteField("EncKeySelect", 0), ByteField("PID", 0x04), LEShortField("ProtoRunNumber", 0),
                   ByteField("ProtoMessNumber", 0), StrFixedLenField("Key", b"\x00" * 16, 16)]


class CmAmpMapReq(Packet):
    """CM_AMP_MAP.REQ: amplitude map, AMLEN 4-bit entries packed two per byte [unverified layout]."""

    name = "CM_AMP_MAP.REQ"
    fields_desc = [FieldLenField("AmLen", None, length_of="AmData", fmt="<H",
                                 adjust=lambda pkt, x: x * 2),
                   StrLenField("AmData", b"", length_from=lambda pkt: (pkt.AmLen + 1) // 2)]


class CmAmpMapCnf(Packet):
    name = "CM_AMP_MAP.CNF"
    fields_desc = [ByteField("ResType", 0)]


class CipherSuite(Packet):
    name = "CipherSuite"
    fields_desc = [LEShortField("suite", 0)]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class CmSlacParmReq(Packet):
    """CM_SLAC_PARM.REQ with the ISO 15118-3 CipherSuite set, present only when SecurityType = 1."""

    name = "CM_SLAC_PARM.REQ"
    fields_desc = [ByteField("ApplicationType", 0), ByteField("SecurityType", 0),
                   StrFixedLenField("RunID", b"\x00" * 8, 8),
                   ConditionalField(FieldLenField("CipherSuiteSetSize", None, count_of="CipherSuites", fmt="B"),
                                    lambda pkt: pkt.SecurityType == 1),
                   ConditionalField(PacketListField("CipherSuites", [], CipherSuite,
                                                    count_from=lambda pkt: pkt.CipherSuiteSetSize),
                                    lambda pkt: pkt.SecurityType == 1)]


class CmValidateReq(Packet):
    """CM_VALIDATE.REQ (BCB toggle validation) [unverified layout, PROTOCOL.md §A.3]."""

    name = "CM_VALIDATE.REQ"
    fields_desc = [ByteField("SignalType", 0), ByteField("Timer", 0), ByteField("Result", 0)]


class CmValidateCnf(Packet):
    name = "CM_VALIDATE.CNF"
    fields_desc = [ByteField("SignalType", 0), ByteField("ToggleNum", 0), ByteField("Result", 0)]


class VsSwVerReq(Packet):
    name = "VS_SW_VER.REQ"
    fields_desc: list = []


class VsSwVerCnf(Packet):
    """VS_SW_VER.CNF as a QCA7420 sends it: the version string (VersionLen bytes incl. NUL), then an opaque tail."""

    name = "VS_SW_VER.CNF"
    fields_desc = [ByteField("Status", 0), ByteField("DeviceID", 0x20),
                   FieldLenField("VersionLen", None, length_of="Version", fmt="B"),
                   StrLenField("Version", b"", length_from=lambda pkt: pkt.VersionLen),
                   StrField("Tail", b"")]

    @property
    def version(self) -> str:
        return bytes(self.Version).split(b"\x00", 1)[0].decode("ascii", "replace")


class VsPlLnkStatusReq(Packet):
    name = "VS_PL_LNK_STATUS.REQ"
    fields_desc: list = []


class VsPlLnkStatusCnf(Packet):
    """MStatus 0 = ok; LinkStatus 1 = the station is in an AVLN with at least one peer, 0 = no link."""

    name = "VS_PL_LNK_STATUS.CNF"
    fields_desc = [ByteField("MStatus", 0), ByteField("LinkStatus", 0)]


# VS_MODULE_OPERATION (open-plc-utils ModuleRead/ModuleSession/ModuleWrite/ModuleCommit); all fields little-endian.
MOD_OP_READ_MEMORY = 0x00
MOD_OP_READ_FLASH = 0x01
MOD_OP_START_SESSION = 0x10
MOD_OP_WRITE_MODULE = 0x11
MOD_OP_CLOSE_SESSION = 0x12
MODULE_ID_PIB = 0x7002  # PLC_MODULEID_PARAMETERS
MODULE_CHUNK = 1400  # PLC_MODULE_SIZE


def _op(*ops: int):
    return lambda pkt: pkt.ModOp in ops


class ModuleSpec(Packet):
    name = "ModuleSpec"
    fields_desc = [LEShortField("ModuleID", MODULE_ID_PIB), LEShortField("ModuleSubID", 0),
                   LEIntField("ModuleLength", 0), LEIntField("ModuleChecksum", 0)]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class VsModuleOperationReq(Packet):
    name = "VS_MODULE_OPERATION.REQ"
    fields_desc = [
        LEIntField("Reserved", 0), ByteField("NumOpData", 1), LEShortField("ModOp", MOD_OP_READ_MEMORY),
        LEShortField("ModOpDataLen", 0), LEIntField("ModOpReserved", 0),
        ConditionalField(LEIntField("SessionID", 0), _op(MOD_OP_START_SESSION, MOD_OP_WRITE_MODULE,
                                                         MOD_OP_CLOSE_SESSION)),
        ConditionalField(FieldLenField("NumModules", None, count_of="Modules", fmt="B"), _op(MOD_OP_START_SESSION)),
        ConditionalField(PacketListField("Modules", [], ModuleSpec, count_from=lambda pkt: pkt.NumModules),
                         _op(MOD_OP_START_SESSION)),
        ConditionalField(ByteField("ModuleIdx", 0), _op(MOD_OP_WRITE_MODULE)),
        ConditionalField(LEShortField("ModuleID", MODULE_ID_PIB), _op(MOD_OP_READ_MEMORY, MOD_OP_READ_FLASH,
                                                                      MOD_OP_WRITE_MODULE)),
        ConditionalField(LEShortField("ModuleSubID", 0), _op(MOD_OP_READ_MEMORY, MOD_OP_READ_FLASH,
                                                             MOD_OP_WRITE_MODULE)),
        ConditionalField(FieldLenField("Length", None, length_of="Data", fmt="<H"),
                         _op(MOD_OP_READ_MEMORY, MOD_OP_READ_FLASH, MOD_OP_WRITE_MODULE)),
        ConditionalField(LEIntField("Offset", 0), _op(MOD_OP_READ_MEMORY, MOD_OP_READ_FLASH, MOD_OP_WRITE_MODULE)),
        ConditionalField(StrLenField("Data", b"", length_from=lambda pkt: pkt.Length), _op(MOD_OP_WRITE_MODULE)),
        ConditionalField(LEIntField("CommitCode", 0), _op(MOD_OP_CLOSE_SESSION)),
        ConditionalField(StrFixedLenField("CommitReserved", b"\x00" * 20, 20), _op(MOD_OP_CLOSE_SESSION)),
    ]


class VsModuleOperationCnf(Packet):
    name = "VS_MODULE_OPERATION.CNF"
    fields_desc = [
        LEShortField("MStatus", 0), LEShortField("ErrRecCode", 0), LEIntField("Reserved", 0),
        ByteField("NumOpData", 1), LEShortField("ModOp", MOD_OP_READ_MEMORY), LEShortField("ModOpDataLen", 0),
        LEIntField("ModOpReserved", 0),
        ConditionalField(LEIntField("SessionID", 0), _op(MOD_OP_START_SESSION, MOD_OP_WRITE_MODULE,
                                                         MOD_OP_CLOSE_SESSION)),
        ConditionalField(ByteField("ModuleIdx", 0), _op(MOD_OP_WRITE_MODULE)),
        ConditionalField(LEShortField("ModuleID", MODULE_ID_PIB), _op(MOD_OP_READ_MEMORY, MOD_OP_READ_FLASH,
                                                                      MOD_OP_WRITE_MODULE)),
        ConditionalField(LEShortField("ModuleSubID", 0), _op(MOD_OP_READ_MEMORY, MOD_OP_READ_FLASH,
                                                             MOD_OP_WRITE_MODULE)),
        ConditionalField(FieldLenField("Length", None, length_of="Data", fmt="<H"),
                         _op(MOD_OP_READ_MEMORY, MOD_OP_READ_FLASH)),
        ConditionalField(LEShortField("WrittenLength", 0), _op(MOD_OP_WRITE_MODULE)),
        ConditionalField(LEIntField("Offset", 0), _op(MOD_OP_READ_MEMORY, MOD_OP_READ_FLASH, MOD_OP_WRITE_MODULE)),
        ConditionalField(StrLenField("Data", b"", length_from=lambda pkt: pkt.Length),
                         _op(MOD_OP_READ_MEMORY, MOD_OP_READ_FLASH)),
        ConditionalField(LEIntField("CommitCode", 0), _op(MOD_OP_CLOSE_SESSION)),
    ]


class VsAttenCharInd(Packet):
    """Qualcomm VS 0xA14E, sent by the modem per received sound; layout not documented anywhere we checked."""

    name = "VS_ATTEN_CHAR.IND"
    fields_desc = [MACField("PevMac", "00:00:00:00:00:00"), StrField("Opaque", b"")]


class VsSnifferReq(Packet):
    """VS_SNIFFER.REQ (0xA034): sniffer (listen) mode on or off; as scapy's homeplugav SnifferRequest."""

    name = "VS_SNIFFER.REQ"
    fields_desc = [ByteField("SnifferControl", 0)]  # 0 disable, 1 enable


class VsSnifferCnf(Packet):
    """VS_SNIFFER.CNF: Status 0 success, 0x10 invalid control (scapy's homeplugav SnifferConfirmation)."""

    name = "VS_SNIFFER.CNF"
    fields_desc = [ByteField("Status", 0)]


class VsSnifferInd(Packet):
    """VS_SNIFFER.IND (0xA036): one PLC frame the modem transmitted or heard — its 16-byte frame control (the
    delimiter: type, SNID, source and destination TEI, link ID, length) and, for beacons, the beacon body; never
    the frame's payload. Layout as open-plc-utils' Monitor.c prints it (SNIFFTYPE, DIRECTION, SYSTIME[8],
    BEACONTIME[4], FRAMECTRL[16], BEACONBODY[136])."""

    name = "VS_SNIFFER.IND"
    fields_desc = [ByteField("SnifferType", 0), ByteField("Direction", 0),  # Direction 0 Tx, 1 Rx
                   LELongField("SystemTime", 0), LEIntField("BeaconTime", 0),
                   StrFixedLenField("FrameControl", b"\x00" * 16, 16), StrFixedLenField("BeaconBody", b"\x00" * 136, 136)]


DELIMITER_TYPES = {0: "Beacon", 1: "SOF", 2: "SACK", 3: "RTS/CTS", 4: "Sound", 5: "RSOF"}


def frame_control(fc: bytes) -> dict[str, Any]:
    """The fields every HomePlug AV frame control starts with (IEEE 1901 FFT: DT_AV 3 bits, ACCESS 1, SNID 4), and
    for start-of-frame delimiters the source/destination TEI and link ID that follow."""
    if len(fc) < 4:
        return {}
    kind = fc[0] & 0x07
    out: dict[str, Any] = {"DelimiterType": DELIMITER_TYPES.get(kind, f"0x{kind:x}"), "Access": (fc[0] >> 3) & 1,
                           "SNID": fc[0] >> 4}
    if kind == 1:
        out.update(STEI=fc[1], DTEI=fc[2], LID=fc[3])
    return out


# scapy layers reused as they are; aliases give them the standard's names in our code.
CmSlacParmCnf = CM_SLAC_PARM_CNF
CmStartAttenCharInd = CM_START_ATTEN_CHAR_IND
CmMnbcSoundInd = CM_MNBC_SOUND_IND
CmAttenCharInd = CM_ATTEN_CHAR_IND
CmAttenCharRsp = CM_ATTEN_CHAR_RSP
CmSlacMatchReq = CM_SLAC_MATCH_REQ
CmSlacMatchCnf = CM_SLAC_MATCH_CNF
CmAttenProfileInd = CM_ATTENUATION_CHARACTERISTICS_MME
VsRsDevReq = ResetDeviceRequest
VsRsDevCnf = ResetDeviceConfirmation
MatchVarReq = SLAC_varfield
MatchVarCnf = SLAC_varfield_cnf

BODIES: dict[int, type[Packet]] = {
    CM_SET_KEY | REQ: CmSetKeyReq, CM_SET_KEY | CNF: CmSetKeyCnf,
    CM_GET_KEY | REQ: CmGetKeyReq, CM_GET_KEY | CNF: CmGetKeyCnf,
    CM_AMP_MAP | REQ: CmAmpMapReq, CM_AMP_MAP | CNF: CmAmpMapCnf,
    CM_SLAC_PARM | REQ: CmSlacParmReq, CM_SLAC_PARM | CNF: CmSlacParmCnf,
    CM_START_ATTEN_CHAR | IND: CmStartAttenCharInd,
    CM_ATTEN_CHAR | IND: CmAttenCharInd, CM_ATTEN_CHAR | RSP: CmAttenCharRsp,
    CM_MNBC_SOUND | IND: CmMnbcSoundInd,
    CM_VALIDATE | REQ: CmValidateReq, CM_VALIDATE | CNF: CmValidateCnf,
    CM_SLAC_MATCH | REQ: CmSlacMatchReq, CM_SLAC_MATCH | CNF: CmSlacMatchCnf,
    CM_ATTEN_PROFILE | IND: CmAttenProfileInd,
    VS_SW_VER | REQ: VsSwVerReq, VS_SW_VER | CNF: VsSwVerCnf,
    VS_RS_DEV | REQ: VsRsDevReq, VS_RS_DEV | CNF: VsRsDevCnf,
    VS_MODULE_OPERATION | REQ: VsModuleOperationReq, VS_MODULE_OPERATION | CNF: VsModuleOperationCnf,
    VS_PL_LNK_STATUS | REQ: VsPlLnkStatusReq, VS_PL_LNK_STATUS | CNF: VsPlLnkStatusCnf,
    VS_ATTEN_CHAR | IND: VsAttenCharInd,
    VS_SNIFFER | REQ: VsSnifferReq, VS_SNIFFER | CNF: VsSnifferCnf, VS_SNIFFER | IND: VsSnifferInd,
}
MMTYPE_OF: dict[type[Packet], int] = {cls: mmtype for mmtype, cls in BODIES.items()}

# Fixed lengths (MVFLength) the SLAC_MATCH messages must carry [PROTOCOL.md §A.3].
_MVF_LENGTH = {CM_SLAC_MATCH | REQ: 62, CM_SLAC_MATCH | CNF: 86}


# --------------------------------------------------------------------------- whole frames


def mac_str(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def mac_bytes(mac: str) -> bytes:
    parts = mac.split(":")
    if len(parts) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return bytes(int(p, 16) for p in parts)


@dataclass
class Mme:
    """One management message: Ethernet addresses, MME header and the body layer.

    `padding` keeps the bytes after the body (Ethernet minimum padding, vendor trailers) so that
    `build_frame(parse_frame(b)) == b` holds for every captured frame."""

    dst: str
    src: str
    mmtype: int
    body: Packet
    mmv: int = MMV_HOMEPLUG_AV11
    fmi: int = 0
    oui: bytes = QUALCOMM_OUI
    padding: bytes = b""

    @property
    def name(self) -> str:
        return mme_name(self.mmtype)

    @property
    def base(self) -> int:
        return self.mmtype & ~0x3

    def fields(self) -> dict[str, Any]:
        return packet_fields(self.body)


def build_frame(mme: Mme) -> bytes:
    header = mac_bytes(mme.dst) + mac_bytes(mme.src) + ETHERTYPE_HOMEPLUG.to_bytes(2, "big")
    header += bytes([mme.mmv]) + mme.mmtype.to_bytes(2, "little")
    header += mme.oui if mme.mmv == MMV_VENDOR else mme.fmi.to_bytes(2, "little")
    frame = header + bytes(mme.body) + mme.padding
    return frame.ljust(ETH_MIN_FRAME, b"\x00")


def make(dst: str, src: str, body: Packet, mmtype: int | None = None) -> bytes:
    """Build a frame from a body layer; MMV and MMTYPE follow from the layer's class."""
    mmtype = MMTYPE_OF[type(body)] if mmtype is None else mmtype
    mmv = MMV_VENDOR if is_vendor(mmtype) else MMV_HOMEPLUG_AV11
    return build_frame(Mme(dst, src, mmtype, body, mmv=mmv))


def parse_header(frame: bytes) -> tuple[str, str, int, int, int]:
    """(dst, src, mmv, mmtype, body offset); raises MalformedInput for non-HomePlug or short frames."""
    if len(frame) < 14:
        raise MalformedInput("Ethernet frame", len(frame), f"{len(frame)} bytes, an Ethernet header needs 14")
    ethertype = int.from_bytes(frame[12:14], "big")
    if ethertype != ETHERTYPE_HOMEPLUG:
        raise MalformedInput("HomePlug MME", 12, f"ethertype 0x{ethertype:04x} is not 0x88e1")
    if len(frame) < 17:
        raise MalformedInput("HomePlug MME", len(frame), "truncated MME header (MMV + MMTYPE need 3 bytes)")
    mmv = frame[14]
    mmtype = int.from_bytes(frame[15:17], "little")
    if mmv == MMV_VENDOR:
        offset = HEADER_VENDOR
    elif mmv in (0x01, 0x02):
        offset = HEADER_STANDARD
    else:
        raise MalformedInput(mme_name(mmtype), 14, f"unknown MMV 0x{mmv:02x} (0x00 vendor, 0x01 AV1.1)")
    if len(frame) < offset:
        raise MalformedInput(mme_name(mmtype), len(frame), f"truncated MME header ({len(frame)} < {offset} bytes)")
    return mac_str(frame[0:6]), mac_str(frame[6:12]), mmv, mmtype, offset


def parse_frame(frame: bytes) -> Mme:
    """Strictly parse one HomePlug MME frame."""
    dst, src, mmv, mmtype, offset = parse_header(frame)
    name = mme_name(mmtype)
    cls = BODIES.get(mmtype)
    if cls is None:
        raise UnknownMessage(name, 15, f"no layout known for MMTYPE 0x{mmtype:04x}")
    if mmv == MMV_VENDOR and frame[17:20] != QUALCOMM_OUI:
        raise MalformedInput(name, 17, f"vendor OUI {frame[17:20].hex()} is not Qualcomm 00b052")
    payload = frame[offset:]
    try:
        body = cls(payload)
    except Exception as exc:  # scapy raises assorted errors on garbage
        raise MalformedInput(name, offset, f"truncated or garbled body ({len(payload)} bytes): {exc}") from None
    used = _check_body(name, mmtype, cls, body, payload, offset)
    body.remove_payload()
    return Mme(dst, src, mmtype, body, mmv=mmv, fmi=int.from_bytes(frame[17:19], "little") if mmv else 0,
               oui=frame[17:20] if mmv == MMV_VENDOR else QUALCOMM_OUI, padding=payload[used:])


def _check_body(name: str, mmtype: int, cls: type[Packet], body: Packet, payload: bytes, offset: int) -> int:
    """Check counts and lengths the lenient dissector does not; return the number of body bytes used."""
    for fld in body.fields_desc:
        real = getattr(fld, "fld", fld)  # unwrap ConditionalField
        if isinstance(fld, ConditionalField) and not fld._evalcond(body):
            continue
        count_of = getattr(real, "count_of", None)
        if isinstance(real, FieldLenField) and count_of:
            claimed, present = body.getfieldval(real.name), len(body.getfieldval(count_of) or [])
            if claimed is not None and claimed != present:
                raise MalformedInput(name, f"{real.name}", f"says {claimed} entries, frame holds {present}")
    fresh = cls(**{k: v for k, v in body.fields.items()})
    fresh_len = len(bytes(fresh))
    if fresh_len > len(payload):
        raise MalformedInput(name, offset + len(payload), f"truncated: body needs {fresh_len} bytes, "
                             f"frame has {len(payload)}")
    if mmtype in _MVF_LENGTH and body.MatchVariableFieldLen != _MVF_LENGTH[mmtype]:
        raise MalformedInput(name, offset + 2, f"MVFLength {body.MatchVariableFieldLen}, "
                             f"expected {_MVF_LENGTH[mmtype]}")
    return fresh_len


def try_parse(frame: bytes) -> Mme | None:
    """Parse, or None for anything that is not a well-formed known MME (state machines ignore those)."""
    try:
        return parse_frame(frame)
    except MalformedInput:
        return None


def packet_fields(pkt: Packet) -> dict[str, Any]:
    """Body fields as JSON-friendly values (bytes → hex, nested layers → dicts, group lists → ints)."""
    out: dict[str, Any] = {}
    for fld in pkt.fields_desc:
        if isinstance(fld, ConditionalField) and not fld._evalcond(pkt):
            continue
        value = pkt.getfieldval(fld.name)
        out[fld.name] = _jsonable(value)
    if isinstance(pkt.payload, Raw):
        out["_rest"] = bytes(pkt.payload).hex()
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, Packet):
        if len(value.fields_desc) == 1:
            return _jsonable(value.getfieldval(value.fields_desc[0].name))
        return packet_fields(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


