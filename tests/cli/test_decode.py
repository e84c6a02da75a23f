"""`ccs-hil decode`: the --json contract, broken captures, missing files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"
IONIQ = CAPTURES / "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"


def ccs_hil(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=120)


def test_json_output_follows_the_record_format():
    result = ccs_hil("decode", str(IONIQ), "--json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["layer"] == "meta" and records[0]["clock"] == "capture" and records[0]["epoch"] == 0.0
    body = records[1:]
    assert all({"t", "layer", "name", "src", "dst"} <= r.keys() for r in body)
    assert all(isinstance(r["t"], float) and r["t"] > 1.6e9 for r in body)  # capture time, epoch seconds
    homeplug = [r for r in body if r["layer"] == "homeplug"]
    assert len(homeplug) == 43 and all(isinstance(r["mmtype"], int) for r in homeplug)
    assert [r["mmtype"] for r in homeplug[:2]] == [0x6008, 0x6009]
    assert sum(r["layer"] == "sdp" for r in body) == 2
    assert not [r for r in body if "error" in r]


def test_text_output_has_one_line_per_record():
    result = ccs_hil("decode", str(IONIQ))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) > 150 and "0x6064" in lines[2] or "CM_SLAC_PARM" in lines[2]
    assert "730 frames" in result.stderr


def test_missing_file_exits_non_zero_with_one_line(tmp_path):
    result = ccs_hil("decode", str(tmp_path / "missing.pcapng"))
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "no such file" in result.stderr




def test_garbage_payloads_decode_to_error_records_and_exit_zero(tmp_path):
    from scapy.layers.inet import TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    packets = [
        Ether(dst="ff:ff:ff:ff:ff:ff", type=0x88E1) / b"\x01",  # truncated HomePlug header
        Ether() / IPv6(src="fe80::1", dst="ff02::1") / UDP(sport=5000, dport=15118) / b"garbage",
        Ether() / IPv6(src="fe80::1", dst="fe80::2") / TCP(sport=5000, dport=15118, flags="PA", seq=1)
        / b"\x01\xfe\x80\x01\x00\x00\x00\x04\xff\xff\xff\xff",
    ]
    for i, p in enumerate(packets):
        p.time = 1700000000 + i
    path = tmp_path / "garbage.pcap"
    wrpcap(str(path), packets)
    result = ccs_hil("decode", str(path), "--json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()][1:]
    assert len(records) == 3
    assert all(r.get("error") and r.get("raw") for r in records), records
