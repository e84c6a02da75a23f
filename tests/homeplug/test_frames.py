"""MME layers against the real captures, the recorded differences to scapy's contrib layers, and malformed input."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hp_helpers import COMPLEO, IONIQ, TAYCAN, homeplug_frames
from scapy.contrib import homepluggp as scapy_gp
from scapy.contrib.homeplugav import GetDeviceVersion, HomePlugAV
from scapy.layers.l2 import Ether

from harness.describe import describe_frame
from stack.errors import MalformedInput
from stack.homeplug import frames as f

EXPECTED = {
    IONIQ: {"CM_SET_KEY.REQ": 1, "CM_SET_KEY.CNF": 1, "CM_SLAC_PARM.REQ": 2, "CM_SLAC_PARM.CNF": 2,
            "CM_START_ATTEN_CHAR.IND": 3, "CM_MNBC_SOUND.IND": 10, "CM_ATTEN_PROFILE.IND": 10,
            "VS_ATTEN_CHAR.IND": 10, "CM_ATTEN_CHAR.IND": 1, "CM_ATTEN_CHAR.RSP": 1, "CM_SLAC_MATCH.REQ": 1,
            "CM_SLAC_MATCH.CNF": 1},
    COMPLEO: {"CM_SLAC_PARM.REQ": 74, "CM_SLAC_PARM.CNF": 2, "CM_START_ATTEN_CHAR.IND": 6, "CM_MNBC_SOUND.IND": 20,
              "CM_ATTEN_CHAR.IND": 4, "CM_ATTEN_CHAR.RSP": 2, "CM_SLAC_MATCH.REQ": 2, "CM_SLAC_MATCH.CNF": 2,
              "CM_SET_KEY.REQ": 2, "CM_SET_KEY.CNF": 2, "CM_GET_KEY.REQ": 10, "CM_GET_KEY.CNF": 9,
              "VS_SW_VER.REQ": 18, "VS_SW_VER.CNF": 22},
    TAYCAN: {"CM_SET_KEY.REQ": 1, "CM_SET_KEY.CNF": 1, "CM_SLAC_PARM.REQ": 6, "CM_SLAC_PARM.CNF": 6},
}


@pytest.mark.parametrize("capture", list(EXPECTED), ids=lambda p: p.name[:24])
def test_every_captured_mme_parses_and_rebuilds_to_the_same_bytes(capture):
    names = Counter()
    for _, frame in homeplug_frames(capture):
        mme = f.parse_frame(frame)
        names[mme.name] += 1
        assert f.build_frame(mme) == frame, mme.name
        rebuilt = f.make(mme.dst, mme.src, mme.body, mme.mmtype)
        assert rebuilt[: len(frame) - len(mme.padding)] == frame[: len(frame) - len(mme.padding)], mme.name
    assert dict(names) == EXPECTED[capture]


def test_captured_values_decode_as_the_facts_sheet_says():
    frames = {f.parse_frame(b).name: f.parse_frame(b) for _, b in homeplug_frames(IONIQ)}
    cnf = frames["CM_SLAC_PARM.CNF"].body
    assert (cnf.MSoundTargetMAC, cnf.NumberMSounds, cnf.TimeOut, cnf.ResponseType) == (f.BROADCAST, 10, 6, 1)
    assert frames["CM_SET_KEY.CNF"].body.Result == 0x01  # the QCA "applied" quirk
    assert frames["CM_ATTEN_PROFILE.IND"].body.NumberOfGroups == 0  # the TP-Link sends no groups
    assert frames["CM_SLAC_MATCH.REQ"].body.MatchVariableFieldLen == 62
    assert len(frames["CM_ATTEN_CHAR.IND"].body.Groups) == 58
    sw = [f.parse_frame(b) for _, b in homeplug_frames(COMPLEO) if b[15:17] == b"\x01\xa0"]
    assert {m.body.version for m in sw} == {"MAC-QCA7420-1.3.0.2134-00-20151212-CS",
                                           "MAC-QCA7000-1.1.0.727-02-20130826-FINAL"}
    assert {f.DEVICE_IDS[m.body.DeviceID] for m in sw} == {"QCA7420", "QCA7000"}


# ---------------------------------------------------------------- differences to scapy.contrib, one test each


def test_difference_scapy_set_key_prn_is_big_endian():
    ours = bytes(f.CmSetKeyReq(ProtoRunNumber=0x0102))
    theirs = bytes(scapy_gp.CM_SET_KEY_REQ(ProtoRunNumber=0x0102))
    assert ours[10:12] == b"\x02\x01" and theirs[10:12] == b"\x01\x02"


def test_difference_scapy_slac_parm_req_lacks_the_cipher_suites():
    body = f.CmSlacParmReq(SecurityType=1, RunID=b"12345678", CipherSuites=[f.CipherSuite(suite=0), f.CipherSuite(suite=1)])
    frame = f.make(f.BROADCAST, "02:00:00:00:00:0f", body)
    parsed = f.parse_frame(frame)
    assert parsed.body.CipherSuiteSetSize == 2 and [c.suite for c in parsed.body.CipherSuites] == [0, 1]
    theirs = scapy_gp.CM_SLAC_PARM_REQ(bytes(body))
    assert not hasattr(theirs, "CipherSuites") and bytes(theirs.payload)[:5] == b"\x02\x00\x00\x01\x00"


def test_difference_scapy_sw_ver_layout_does_not_fit_a_qca7420_answer():
    frame = next(b for _, b in homeplug_frames(COMPLEO) if b[15:17] == b"\x01\xa0")
    assert len(frame) == 297
    theirs = GetDeviceVersion(frame[20:])
    assert len(theirs.DeviceVersion_pad) == 64 - 38  # scapy assumes a 64-byte field...
    assert len(bytes(theirs.payload)) > 150  # ...and leaves most of the real answer unexplained
    ours = f.parse_frame(frame).body
    assert ours.version.startswith("MAC-QCA7420") and len(ours.Tail) == 297 - 20 - 3 - 38


def test_difference_scapy_names_and_missing_layers():
    assert scapy_gp.HomePlugGPTypes[0x606E] == "CM_ATTEN_CHAR_IN" and f.mme_name(0x606E) == "CM_ATTEN_CHAR.IND"
    assert f.mme_name(0x6086) == "CM_ATTEN_PROFILE.IND"
    validate = f.make(f.BROADCAST, "02:00:00:00:00:0f", f.CmValidateReq(SignalType=0, Timer=5, Result=1))
    assert isinstance(Ether(validate)[HomePlugAV].payload, type(Ether(validate)[HomePlugAV].payload))
    assert Ether(validate)[HomePlugAV].payload.name in ("Raw", "Padding")  # scapy: no CM_VALIDATE layer
    assert f.parse_frame(validate).fields() == {"SignalType": 0, "Timer": 5, "Result": 1}


# ---------------------------------------------------------------- added layers round-trip


@pytest.mark.parametrize("body", [
    f.CmValidateCnf(SignalType=0, ToggleNum=3, Result=2), f.CmAmpMapReq(AmData=b"\x12\x34\x05"),
    f.CmAmpMapCnf(ResType=0), f.VsPlLnkStatusCnf(MStatus=0, LinkStatus=1), f.VsSwVerReq(),
    f.VsModuleOperationReq(ModOp=f.MOD_OP_READ_MEMORY, ModuleID=f.MODULE_ID_PIB, Length=1400, Offset=2800),
    f.VsModuleOperationReq(ModOp=f.MOD_OP_START_SESSION, SessionID=7, Modules=[f.ModuleSpec(ModuleLength=8192)]),
    f.VsModuleOperationReq(ModOp=f.MOD_OP_WRITE_MODULE, SessionID=7, Offset=1400, Data=b"\xaa" * 100),
    f.VsModuleOperationReq(ModOp=f.MOD_OP_CLOSE_SESSION, SessionID=7),
    f.VsModuleOperationCnf(ModOp=f.MOD_OP_READ_MEMORY, Offset=0, Data=b"\x01" * 64),
], ids=lambda b: b.name)
def test_added_layers_round_trip(body):
    frame = f.make("00:b0:52:00:00:01", "02:00:00:00:00:0f", body)
    parsed = f.parse_frame(frame)
    assert type(parsed.body) is type(body) and bytes(parsed.body) == bytes(body)
    assert f.build_frame(parsed) == frame


# ---------------------------------------------------------------- malformed input → typed errors


def _ioniq(name: str) -> bytes:
    return next(b for _, b in homeplug_frames(IONIQ) if f.parse_frame(b).name == name)


@pytest.mark.parametrize("name", ["CM_SLAC_MATCH.CNF", "CM_ATTEN_CHAR.IND", "CM_MNBC_SOUND.IND", "CM_SLAC_MATCH.REQ"])
def test_truncated_frames_name_the_message_and_offset(name):
    frame = _ioniq(name)
    with pytest.raises(MalformedInput) as info:
        f.parse_frame(frame[:40])
    assert info.value.what == name and "truncated" in info.value.why


def test_counts_and_lengths_are_checked():
    frame = bytearray(_ioniq("CM_ATTEN_CHAR.IND"))
    with pytest.raises(MalformedInput, match="NumberOfGroups: says 58 entries, frame holds 10"):
        f.parse_frame(bytes(frame[:19 + 52 + 10]))  # NumGroups 58, only 10 groups present
    match = bytearray(_ioniq("CM_SLAC_MATCH.REQ"))
    match[21] = 0x40  # MVFLength 64
    with pytest.raises(MalformedInput, match="MVFLength 64, expected 62"):
        f.parse_frame(bytes(match))


def test_unknown_types_header_errors_and_wrong_oui():
    with pytest.raises(f.UnknownMessage, match="MMTYPE 0x6044"):
        f.parse_frame(bytes(12) + b"\x88\xe1\x01\x44\x60" + bytes(43))
    with pytest.raises(MalformedInput, match="ethertype 0x86dd"):
        f.parse_frame(bytes(12) + b"\x86\xdd" + bytes(46))
    with pytest.raises(MalformedInput, match="MMV 0x07"):
        f.parse_frame(bytes(12) + b"\x88\xe1\x07\x64\x60" + bytes(43))
    with pytest.raises(MalformedInput, match="OUI"):
        f.parse_frame(bytes(12) + b"\x88\xe1\x00\x00\xa0\x00\x11\x22" + bytes(40))
    with pytest.raises(MalformedInput, match="Ethernet header"):
        f.parse_frame(b"\x01\x02")


def test_describer_names_messages_and_never_raises():
    record = describe_frame(_ioniq("CM_SLAC_PARM.REQ"))
    assert record["name"] == "CM_SLAC_PARM.REQ" and record["mmtype"] == 0x6064
    assert record["body"]["RunID"] == "0465650064c30000" and "error" not in record
    bad = describe_frame(_ioniq("CM_SLAC_MATCH.CNF")[:50])
    assert bad["name"] == "CM_SLAC_MATCH.CNF" and "truncated" in bad["error"] and bad["raw"]
    rng = random.Random(4)
    for _ in range(300):
        junk = bytes(12) + b"\x88\xe1" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
        out = describe_frame(junk)
        assert out["layer"] == "homeplug" and ("body" in out or "error" in out)
