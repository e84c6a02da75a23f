"""`ccs-hil decode`: the --json contract, the shared captures against their references, broken captures,
unreadable files, and the text lines."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from .reference import Agreement, compare, parse_reference

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"
IONIQ = CAPTURES / "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"
COMPLEO = CAPTURES / "2023-04-19_compleo_pyPlc_lightbulb_failedBadRegulation.pcapng"
TAYCAN = CAPTURES / "2023-05-03_TaycanLeftside_slacFail.pcapng"
ALL = sorted(CAPTURES.glob("*.pcapng"))
OUR_LAYERS = ("homeplug", "sdp", "v2gtp", "exi", "tcp")


def ccs_hil(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=120)


def decode_json(path: Path) -> list[dict]:
    result = ccs_hil("decode", str(path), "--json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def decoded() -> dict[str, list[dict]]:
    return {path.name: decode_json(path) for path in ALL}


def test_the_shared_captures_are_all_there():
    assert {p.name for p in ALL} == {IONIQ.name, COMPLEO.name, TAYCAN.name}


def test_json_output_follows_the_record_format(decoded):
    records = decoded[IONIQ.name]
    assert records[0]["layer"] == "meta" and records[0]["clock"] == "capture" and records[0]["epoch"] == 0.0
    body = records[1:]
    assert all({"t", "layer", "name", "src", "dst"} <= r.keys() for r in body)
    assert all(isinstance(r["t"], float) and r["t"] > 1.6e9 for r in body)  # capture time, epoch seconds
    assert [r["t"] for r in body] == sorted(r["t"] for r in body)
    homeplug = [r for r in body if r["layer"] == "homeplug"]
    assert len(homeplug) == 43 and all(isinstance(r["mmtype"], int) for r in homeplug)
    assert [r["mmtype"] for r in homeplug[:2]] == [0x6008, 0x6009]
    assert homeplug[0]["src"] == "dc:0e:a1:11:67:08" and homeplug[0]["name"] == "CM_SET_KEY.REQ"
    assert {r["name"] for r in homeplug if r["mmtype"] == 0xA14E} == {"VS_ATTEN_CHAR.IND"}  # vendor MME named
    sdp = [r for r in body if r["layer"] == "sdp"]
    assert [r["name"] for r in sdp] == ["SDP.REQ", "SDP.RES"]
    assert sdp[0]["src"] == "fe80::665:65ff:fe00:64c3" and sdp[0]["dst"] == "ff02::1" and sdp[0]["dport"] == 15118
    assert sdp[1]["body"]["port"] == 15118
    exi = [r for r in body if r["layer"] == "exi"]
    assert len(exi) == 138  # 141 V2GTP segments, three of them TCP retransmissions
    assert not [r for r in body if r["layer"] == "v2gtp"]  # an EXI message gives one exi record, no v2gtp one
    assert exi[0]["name"] == "supportedAppProtocolReq" and exi[0]["schema"] == "apphand"
    assert exi[2]["name"] == "SessionSetupReq" and exi[2]["schema"] == "din"
    assert exi[2]["body"]["V2G_Message"]["Body"]["SessionSetupReq"]["EVCCID"] == "0465650064c3"
    assert all(r["raw"].startswith("01fe8001") and r["conn"] == 1 for r in exi)
    assert {r["sport"] for r in exi} == {50106, 15118}
    tcp = [r["name"] for r in body if r["layer"] == "tcp"]
    assert tcp == ["open", "closed"]


@pytest.mark.parametrize("name", [p.name for p in ALL])
def test_every_shared_capture_decodes_without_error_records(decoded, name):
    records = decoded[name][1:]
    errors = [r for r in records if r.get("error")]
    assert not errors, errors[:3]
    assert all(r["layer"] in OUR_LAYERS for r in records)
    assert not [r for r in records if r["layer"] == "exi" and r["name"] == "?"]


def test_message_counts_per_capture(decoded):
    def count(name, layer):
        return sum(r["layer"] == layer for r in decoded[name][1:])
    assert (count(COMPLEO.name, "homeplug"), count(COMPLEO.name, "sdp"), count(COMPLEO.name, "exi")) == (175, 28, 284)
    assert (count(TAYCAN.name, "homeplug"), count(TAYCAN.name, "exi")) == (14, 0)
    compleo_conns = {r["conn"] for r in decoded[COMPLEO.name][1:] if r["layer"] == "exi"}
    assert len(compleo_conns) > 1  # SAP learnt per connection; the schema follows each handshake
    assert {r["schema"] for r in decoded[COMPLEO.name][1:] if r["layer"] == "exi"} == {"apphand", "din"}


def test_exi_names_and_values_agree_with_the_reference_text(decoded):
    total = Agreement()
    for path in (IONIQ, COMPLEO):
        result = compare(decoded[path.name][1:], parse_reference(str(path) + ".decoded.txt"), path.name[:24])
        print(f"\n{path.name}: {result.blocks} reference blocks, {result.matched} matched to exi records by bytes "
              f"and capture time, {result.retransmissions} TCP retransmissions; names agree {result.names_agree}; "
              f"fields {result.agreed}/{result.compared} agree; skipped {dict(result.skipped)}")
        total.add(result)
    assert not total.problems, "\n".join(total.problems[:30])
    assert total.blocks == 141 + 284 and total.matched == 138 + 284 and total.retransmissions == 3
    assert total.names_agree == 136 + 280  # the other 6 are SAP messages, which the reference cannot name
    assert total.compared > 7000 and total.agreed == total.compared


# --------------------------------------------------------------------------- broken and unreadable captures


def test_missing_file_exits_non_zero_with_one_line(tmp_path):
    result = ccs_hil("decode", str(tmp_path / "missing.pcapng"))
    assert result.returncode == 2 and not result.stdout
    assert result.stderr.strip().count("\n") == 0 and "no such file" in result.stderr


@pytest.mark.parametrize("content, words", [(b"this is not a capture at all", "not a pcap or pcapng"),
                                            (b"", "too short"), (b"\xd4\xc3\xb2\xa1\x02\x00", "global header")])
def test_unreadable_files_exit_non_zero_with_one_line(tmp_path, content, words):
    path = tmp_path / "bad.pcap"
    path.write_bytes(content)
    result = ccs_hil("decode", str(path), "--json")
    assert result.returncode == 2 and not result.stdout
    assert result.stderr.count("\n") == 1 and words in result.stderr and str(path) in result.stderr


def test_a_directory_is_not_a_capture(tmp_path):
    result = ccs_hil("decode", str(tmp_path))
    assert result.returncode == 2 and "is a directory" in result.stderr and result.stderr.count("\n") == 1


def test_truncated_file_decodes_what_is_there_and_ends_with_an_error_record(tmp_path):
    data = IONIQ.read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[: len(data) // 2 + 7])
    result = ccs_hil("decode", str(cut), "--json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()][1:]
    assert sum(r["layer"] == "exi" and not r.get("error") for r in records) > 20
    damaged = [r for r in records if r["name"] == "capture damaged"]
    assert len(damaged) == 1 and "file ends inside a block" in damaged[0]["error"] and damaged[0]["raw"]


def _ether_ipv6_tcp(src, dst, seq, payload, flags=0x18):
    """An Ethernet/IPv6/TCP frame built with struct (checksums zero: we do not verify them)."""
    tcp = struct.pack("!HHIIBBHHH", src[1], dst[1], seq, 0, 5 << 4, flags, 65535, 0, 0) + payload
    ipv6 = struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + _ip(src[0]) + _ip(dst[0])
    return b"\x02" * 6 + b"\x04" * 6 + b"\x86\xdd" + ipv6 + tcp


def _ip(text):
    import socket

    return socket.inet_pton(socket.AF_INET6, text)


def _pcap(path: Path, frames: list[tuple[float, bytes]], linktype: int = 1) -> Path:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    for t, frame in frames:
        out += struct.pack("<IIII", int(t), int(round((t % 1) * 1e6)), len(frame), len(frame)) + frame
    path.write_bytes(out)
    return path


def _v2gtp(schema, message):
    from stack import exi, v2gtp

    return v2gtp.encode_exi(exi.encode(schema, message))


def test_half_streams_gaps_and_cut_messages_decode_with_error_objects(tmp_path):
    """A capture that joined mid-message, lost a segment, saw one direction only, and ended inside a message."""
    from stack.sessions import templates
    from stack.sessions.messages import v2g

    sid = "0102030405060708"
    messages = [_v2gtp("din", v2g(sid, name, templates.body("din", name)))
                for name in ("CableCheckReq", "PreChargeReq", "PreChargeReq", "PowerDeliveryReq", "CurrentDemandReq")]
    ev, evse = ("fe80::1", 50000), ("fe80::2", 15118)
    seq = 1000
    frames = []
    tail = messages[0][5:]  # the capture starts 5 bytes into the first message
    frames.append((1.0, _ether_ipv6_tcp(ev, evse, seq, tail)))
    seq += len(tail)
    frames.append((2.0, _ether_ipv6_tcp(ev, evse, seq, messages[1])))
    seq += len(messages[1])
    seq += len(messages[2])  # this segment was never captured: a gap
    frames.append((3.0, _ether_ipv6_tcp(ev, evse, seq, messages[3])))
    seq += len(messages[3])
    frames.append((4.0, _ether_ipv6_tcp(ev, evse, seq, messages[4][:10])))  # cut off by the end of the capture
    path = _pcap(tmp_path / "half.pcap", frames)
    result = ccs_hil("decode", str(path), "--json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()][1:]
    summary = [(r["layer"], r["name"], bool(r.get("error"))) for r in records]
    assert ("exi", "PreChargeReq", False) in summary and ("exi", "PowerDeliveryReq", False) in summary
    assert ("v2gtp", "framing error", True) in summary  # the tail of the message the capture joined in
    assert ("v2gtp", "gap", True) in summary  # the lost segment
    assert ("v2gtp", "truncated", True) in summary  # the message cut off at the end
    assert all(r.get("raw") is not None and r["src"] for r in records if r.get("error"))
    assert summary.index(("exi", "PreChargeReq", False)) < summary.index(("v2gtp", "gap", True)) < \
        summary.index(("exi", "PowerDeliveryReq", False))


def test_garbage_payloads_decode_to_error_records_and_exit_zero(tmp_path):
    from scapy.layers.inet import TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    packets = [
        Ether(dst="ff:ff:ff:ff:ff:ff", type=0x88E1) / b"\x01",  # truncated HomePlug header
        Ether(dst="ff:ff:ff:ff:ff:ff", type=0x88E1) / (bytes.fromhex("016460") + b"\x00" * 3),  # SLAC_PARM.REQ, cut
        Ether() / IPv6(src="fe80::1", dst="ff02::1") / UDP(sport=5000, dport=15118) / b"garbage",
        Ether() / IPv6(src="fe80::1", dst="fe80::2") / TCP(sport=5000, dport=15118, flags="PA", seq=1)
        / b"\x01\xfe\x80\x01\x00\x00\x00\x04\xff\xff\xff\xff",  # V2GTP framing fine, EXI garbage
        Ether(type=0x86DD) / b"\x60\x00",  # IPv6 header cut short
    ]
    for i, p in enumerate(packets):
        p.time = 1700000000 + i
    path = tmp_path / "garbage.pcap"
    wrpcap(str(path), packets)
    result = ccs_hil("decode", str(path), "--json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()][1:]
    assert len(records) == 5
    assert all(r.get("error") and r.get("raw") and r["layer"] in OUR_LAYERS for r in records), records
    assert [r["layer"] for r in records] == ["homeplug", "homeplug", "sdp", "exi", "tcp"]
    assert records[1]["name"] == "CM_SLAC_PARM.REQ" and records[1]["mmtype"] == 0x6064
    text = ccs_hil("decode", str(path))
    assert text.returncode == 0 and text.stdout.count("ERROR") == 5
    assert "5 with errors" in text.stderr


def test_pcap_variants_nanoseconds_and_linux_cooked(tmp_path):
    """Classic pcap with the nanosecond magic, and a Linux cooked (SLL) capture as `tcpdump -i any` writes."""
    from stack.sdp import SdpRequest

    payload = SdpRequest().to_bytes()
    udp = struct.pack("!HHHH", 50000, 15118, 8 + len(payload), 0) + payload
    ipv6 = struct.pack("!IHBB", 6 << 28, len(udp), 17, 255) + _ip("fe80::1") + _ip("ff02::1")
    sll = struct.pack("!HHH", 4, 1, 6) + bytes.fromhex("04656500 64c3") + b"\x00\x00" + b"\x86\xdd"
    nano = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 113)
    nano += struct.pack(">IIII", 1700000000, 123456789, len(sll + ipv6 + udp), len(sll + ipv6 + udp))
    nano += sll + ipv6 + udp
    path = tmp_path / "cooked.pcap"
    path.write_bytes(nano)
    (record,) = decode_json(path)[1:]
    assert record["name"] == "SDP.REQ" and record["src"] == "fe80::1"
    assert record["t"] == pytest.approx(1700000000.123456789, abs=1e-6)


def test_text_output_has_time_direction_name_and_values():
    result = ccs_hil("decode", str(IONIQ))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert "730 frames: 185 records, 0 with errors, 3 TCP retransmissions" in result.stderr
    set_key = lines[0].split()
    assert set_key[0] == "18:33:47.597" and set_key[1] == "+0.000" and set_key[2] == "EVSE→all"
    assert set_key[4] == "CM_SET_KEY.REQ" and "NetworkID=" in lines[0]
    parm = next(line for line in lines if "CM_SLAC_PARM.REQ" in line)
    assert "EV→all" in parm and "RunID=0465650064c30000" in parm
    demand = next(line for line in lines if "CurrentDemandRes" in line)
    assert "EVSE→EV" in demand and "exi/din" in demand and "EVSEPresentVoltage=" in demand
    assert "EVSENotification" not in demand  # "None": nothing to say
    setup = next(line for line in lines if "SessionSetupRes" in line)
    assert "SessionID=0102030405060708" in setup and "EVSEID=5a5a3030303030" in setup


def test_several_captures_in_one_run_each_with_its_own_stream(tmp_path):
    result = ccs_hil("decode", str(TAYCAN), str(tmp_path / "missing.pcap"), str(IONIQ), "--json")
    assert result.returncode == 2  # one file could not be read: said in one line, the others decoded
    records = [json.loads(line) for line in result.stdout.splitlines()]
    metas = [r for r in records if r["layer"] == "meta"]
    assert [Path(m["source"]).name for m in metas] == [TAYCAN.name, IONIQ.name]
    assert len(records) == 2 + 14 + 185
    assert result.stderr.count("no such file") == 1
