"""`ccs-hil sniff`: live capture on a veth pair and on simnet's emulated PLC adaptors (listen mode via VS_SNIFFER),
bounded by --count/--duration/Ctrl-C with the pcapng complete, and typed errors without interface or privilege."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from stack.homeplug import frames as f

REPO = Path(__file__).resolve().parents[2]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (veth pairs, network namespaces, raw sockets)")
EV_MAC = "02:00:00:00:00:0b"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@contextmanager
def veth_pair() -> Iterator[tuple[str, str]]:
    """Two ends without IPv6 (no router solicitations in the capture), removed afterwards."""
    a, b = f"snf{os.getpid() % 10000}a", f"snf{os.getpid() % 10000}b"
    _ip("link", "add", a, "type", "veth", "peer", "name", b)
    try:
        for end in (a, b):
            Path(f"/proc/sys/net/ipv6/conf/{end}/disable_ipv6").write_text("1")
            _ip("link", "set", end, "up")
        yield a, b
    finally:
        subprocess.run(["ip", "link", "del", a], capture_output=True, timeout=10)


class Lines:
    """A pipe read line by line on a thread, so tests can wait for a line with a bound and still get all of it."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._done = threading.Event()
        self._changed = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        self._done.set()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.lines):
                left = end - time.monotonic()
                if left <= 0 or self._done.is_set():
                    return predicate(self.lines)
                self._changed.wait(left)
            return True

    def text(self, timeout: float = 10) -> str:
        self._done.wait(timeout)
        return "".join(self.lines)


class Sniff:
    def __init__(self, *args: str, prefix: tuple[str, ...] = ()) -> None:
        self.proc = subprocess.Popen([*prefix, sys.executable, "-m", "harness.cli", "sniff", *args], cwd=REPO,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out, self.err = Lines(self.proc.stdout), Lines(self.proc.stderr)

    def ready(self) -> bool:
        return self.err.wait_for(lambda lines: any("listening on" in line for line in lines), 20)

    def finish(self, interrupt: bool = False) -> tuple[int, str, str]:
        if interrupt:
            self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return code, self.out.text(), self.err.text()


def frames_for_the_wire() -> list[bytes]:
    from stack.sdp import SdpRequest

    slac = f.make(f.BROADCAST, EV_MAC, f.CmSlacParmReq(ApplicationType=0, SecurityType=0, RunID=b"\x01" * 8))
    payload = SdpRequest().to_bytes()
    udp = (50000).to_bytes(2, "big") + (15118).to_bytes(2, "big") + (8 + len(payload)).to_bytes(2, "big") + \
        b"\x00\x00" + payload
    ipv6 = bytes([0x60, 0, 0, 0]) + len(udp).to_bytes(2, "big") + bytes([17, 255]) + \
        socket.inet_pton(socket.AF_INET6, "fe80::b") + socket.inet_pton(socket.AF_INET6, "ff02::1")
    sdp = bytes.fromhex("333300000001") + f.mac_bytes(EV_MAC) + b"\x86\xdd" + ipv6 + udp
    ipv4 = b"\xff" * 6 + f.mac_bytes(EV_MAC) + b"\x08\x00" + b"\x45" + b"\x00" * 45
    return [slac, ipv4, sdp]


@needs_root
def test_count_json_and_pcapng_with_comments(tmp_path):
    from scapy.utils import PcapNgReader

    out = tmp_path / "live.pcapng"
    with veth_pair() as (a, b):
        proc = Sniff("--iface", a, "--count", "3", "--json", "--write", str(out))
        assert proc.ready(), proc.err.lines
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as raw:
            raw.bind((b, 0))
            for frame in frames_for_the_wire():
                raw.send(frame)
        code, stdout, stderr = proc.finish()
    assert code == 0, stderr
    records = [json.loads(line) for line in stdout.splitlines()]
    assert records[0]["layer"] == "meta" and records[0]["clock"] == "capture"
    assert [(r["layer"], r["name"]) for r in records[1:]] == [("homeplug", "CM_SLAC_PARM.REQ"), ("sdp", "SDP.REQ")]
    assert records[1]["mmtype"] == 0x6064 and records[2]["src"] == "fe80::b"
    assert abs(records[1]["t"] - time.time()) < 60  # kernel timestamps, epoch seconds
    assert "3 frames: 3 frames, 2 records" in stderr and "1 ethertype 0x0800" in stderr
    with PcapNgReader(str(out)) as reader:
        packets = list(reader)
    assert [bytes(p) for p in packets] == frames_for_the_wire()
    comments = [p.comments for p in packets]
    assert comments[0] == [b"homeplug CM_SLAC_PARM.REQ RunID=0101010101010101"] and not comments[1]
    assert comments[2][0].startswith(b"sdp SDP.REQ")
    decoded = subprocess.run([sys.executable, "-m", "harness.cli", "decode", str(out), "--json", "-q"], cwd=REPO,
                             capture_output=True, text=True, timeout=60)
    assert [json.loads(line)["name"] for line in decoded.stdout.splitlines()[1:]] == ["CM_SLAC_PARM.REQ", "SDP.REQ"]


@needs_root
def test_duration_and_ctrl_c_end_cleanly_with_the_file_complete(tmp_path):
    from scapy.utils import PcapNgReader

    with veth_pair() as (a, b):
        start = time.monotonic()
        code, _, stderr = Sniff("--iface", a, "--duration", "0.5", "--write", str(tmp_path / "quiet.pcapng")).finish()
        assert code == 0 and "0.5 s elapsed: 0 frames" in stderr, stderr
        assert time.monotonic() - start < 15
        with PcapNgReader(str(tmp_path / "quiet.pcapng")) as reader:
            assert list(reader) == []

        proc = Sniff("--iface", a, "--write", str(tmp_path / "stopped.pcapng"))
        assert proc.ready(), proc.err.lines
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as raw:
            raw.bind((b, 0))
            raw.send(frames_for_the_wire()[0])
        assert proc.out.wait_for(lambda lines: any("CM_SLAC_PARM.REQ" in line for line in lines), 20)
        code, _, stderr = proc.finish(interrupt=True)
    assert code == 0 and "interrupted: 1 frames, 1 records" in stderr, stderr
    with PcapNgReader(str(tmp_path / "stopped.pcapng")) as reader:
        assert len(list(reader)) == 1


def test_missing_interface_is_one_clear_line():
    result = subprocess.run([sys.executable, "-m", "harness.cli", "sniff", "--iface", "nosuchif0", "--count", "1"],
                            cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "nosuchif0" in result.stderr and ("no such interface" in result.stderr or "root" in result.stderr)


@needs_root
def test_listen_mode_on_simnet_reports_the_powerline_traffic_of_other_stations(tmp_path):
    """A third station's adaptor in listen mode sees the delimiters of the EVSE↔PEV SLAC exchange, unicast too;
    the modem leaves listen mode when the sniffer ends."""
    from harness.clock import MonotonicClock
    from harness.netns import SimNet
    from harness.runtime import Node, Runner
    from harness.runtime.raw_l2 import RawL2Port
    from stack.homeplug import EvseSlac, EvseSlacConfig, PevSlac, PevSlacConfig
    from stack.homeplug.timers import TT_matching_repetition

    with SimNet.build(("evse", "pev", "sniffer")) as net:
        proc = Sniff("--iface", net.iface, "--json", "--sniffer", "--write", str(tmp_path / "plc.pcapng"),
                     prefix=tuple(net.exec_args("sniffer")))
        try:
            assert proc.ready(), proc.err.lines
            assert "listen mode on" in proc.err.lines[-1]
            assert net.line.modems["sniffer-modem"].sniffer == net.mac["sniffer"]
            runner = Runner(MonotonicClock())
            evse = runner.add(Node("evse", EvseSlac(EvseSlacConfig(wait_for_cp=False)), net.mac["evse"],
                                   net.link_local("evse")))
            pev = runner.add(Node("pev", PevSlac(PevSlacConfig(wait_for_cp=False)), net.mac["pev"],
                                  net.link_local("pev")))
            for role, node in (("evse", evse), ("pev", pev)):
                with net.inside(role):
                    RawL2Port(runner, node, net.iface)
            assert runner.run(lambda: evse.endpoint.done and pev.endpoint.done, TT_matching_repetition).reached
            assert evse.endpoint.matched and pev.endpoint.matched
            assert proc.out.wait_for(lambda lines: sum('"VS_SNIFFER.IND"' in line for line in lines) >= 15, 20)
        finally:
            code, stdout, stderr = proc.finish(interrupt=True)
        assert code == 0, stderr
        assert net.line.modems["sniffer-modem"].sniffer is None  # switched off again on the way out
    records = [json.loads(line) for line in stdout.splitlines()]
    confirmations = [r for r in records if r["name"] == "VS_SNIFFER.CNF"]
    assert len(confirmations) == 2 and all(r["body"]["Status"] == 0 for r in confirmations)
    inds = [r for r in records if r["name"] == "VS_SNIFFER.IND"]
    assert {r["body"]["Direction"] for r in inds} == {"Rx"} and {r["body"]["DelimiterType"] for r in inds} == {"SOF"}
    evse_tei = net.line.modems["evse-modem"].tei
    pev_tei = net.line.modems["pev-modem"].tei
    assert {(r["body"]["STEI"], r["body"]["DTEI"]) for r in inds} >= {(pev_tei, 0xFF), (evse_tei, pev_tei)}
    names = {r["name"] for r in records}
    assert "CM_SLAC_PARM.REQ" in names  # broadcast SLAC reaches the third host itself
    assert "CM_SLAC_MATCH.CNF" not in names  # unicast to the PEV: only its delimiter was seen
