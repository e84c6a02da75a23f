"""pcapng per test: re-read with scapy, comments per frame, synthetic headers consistent and announced."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from scapy.all import TCP, UDP, Ether, IPv6, PcapNgReader, Raw

from harness.clock import VirtualClock
from harness.runtime import InprocHub, InprocIpFabric, Node, Runner
from reports.pcapng import write_pcapng
from stack import sansio as io
from stack.timers import SpecTimer


def read(path):
    with PcapNgReader(str(path)) as reader:
        return list(reader)


def section_comment(path) -> str:
    data = path.read_bytes()
    block_type, length, magic = struct.unpack("<III", data[:12])
    assert block_type == 0x0A0D0D0A and magic == 0x1A2B3C4D
    options, found = data[24:length - 4], []
    while len(options) >= 4:
        code, size = struct.unpack("<HH", options[:4])
        if code == 0:
            break
        found.append((code, options[4:4 + size].decode()))
        options = options[4 + size + (-size % 4):]
    return dict(found)[1]


def comments(packet) -> str:
    return " ".join(c.decode() if isinstance(c, bytes) else str(c) for c in (packet.comments or []))


def test_recorded_session_rereads_with_comments(tmp_path, din_pass):
    path = tmp_path / "capture.pcapng"
    stats = write_pcapng(din_pass, path, title="test_full_session", dut_role="evse")
    packets = read(path)
    assert stats.real == sum(r.layer == "homeplug" for r in din_pass) == 25
    assert stats.synthetic == 2 + 2 * 7 + 22 + 2 + 100  # SDP, SAP…CableCheck, PreCharge ×11, PowerDelivery, CD ×50
    assert len(packets) == stats.real + stats.synthetic + stats.handshake
    notice = section_comment(path)
    assert "SYNTHETIC Ethernet/IPv6/UDP/TCP" in notice and "test_full_session" in notice
    names = [comments(p) for p in packets]
    assert all(names)  # every frame has a comment
    slac = next(p for p in packets if "CM_SLAC_PARM.REQ" in comments(p))
    assert slac[Ether].type == 0x88E1 and "synthetic" not in comments(slac)
    original = next(r for r in din_pass if r.name == "CM_SLAC_PARM.REQ")
    assert bytes(slac) == bytes.fromhex(original.raw)  # the real frame, byte for byte
    assert float(slac.time) == round(original.t + din_pass[0].extra["epoch"], 6)
    sdp = next(p for p in packets if "SDP.REQ" in comments(p))
    assert sdp[IPv6].dst == "ff02::1" and sdp[UDP].dport == 15118 and sdp[Ether].dst == "33:33:00:00:00:01"
    setup = next(p for p in packets if "SessionSetupRes" in comments(p))
    assert setup[IPv6].src == "fe80::c690:83f3:fbcb:980e" and setup[TCP].sport == 15118
    assert setup[TCP].dport == 50106
    assert setup[Ether].src == "dc:0e:a1:11:67:08"  # the DUT's MAC, learnt from its HomePlug frames
    assert setup[Ether].dst == "04:65:65:00:64:c3"  # the car's, from its EUI-64 link-local address
    assert "DUT→" in comments(setup) and "[din]" in comments(setup)


def test_tcp_stream_is_consistent(tmp_path, din_pass):
    path = tmp_path / "c.pcapng"
    write_pcapng(din_pass, path, dut_role="evse")
    tcp = [p for p in read(path) if TCP in p]
    assert [str(p[TCP].flags) for p in tcp[:3]] == ["S", "SA", "A"]
    assert tcp[0][IPv6].src == "fe80::665:65ff:fe00:64c3"  # the car connected
    streams: dict[int, bytes] = {}
    expected_seq: dict[int, int] = {}
    for packet in tcp:
        segment = packet[TCP]
        if segment.sport in expected_seq:
            assert segment.seq == expected_seq[segment.sport], packet.summary()
        payload = bytes(segment.payload) if Raw in packet else b""
        expected_seq[segment.sport] = segment.seq + len(payload) + (1 if segment.flags & 0x03 else 0)
        streams[segment.sport] = streams.get(segment.sport, b"") + payload
    sent = b"".join(bytes.fromhex(r.raw) for r in din_pass if r.layer == "exi" and r.dir == "from_dut")
    assert streams[15118] == sent
    assert [str(p[TCP].flags) for p in tcp[-3:]] == ["FA", "FA", "A"]


@dataclass
class Server:
    def handle(self, event, now):
        if isinstance(event, io.Start):
            return [io.Listen(15118), io.BindUdp(15118, "ff02::1")]
        if isinstance(event, io.DatagramReceived):
            return [io.SendDatagram(bytes.fromhex("01fe90010000001400") + bytes(19), event.src, src_port=15118)]
        if isinstance(event, io.StreamData):
            return [io.SendStream(b"\x01\xfe\x80\x01\x00\x00\x00\x03res", event.conn)]
        return []

    def next_deadline(self):
        return None


@dataclass
class Client:
    done: bool = False
    log: list = field(default_factory=list)

    def handle(self, event, now):
        if isinstance(event, io.Start):
            return [io.SendFrame(bytes.fromhex("ffffffffffff020000000001" "88e1" "01" "6460" "0000") + bytes(20)),
                    io.SendDatagram(bytes.fromhex("01fe9000000000021000"), ("ff02::1", 15118))]
        if isinstance(event, io.DatagramReceived):
            return [io.OpenStream(1, ("fe80::2", 15118))]
        if isinstance(event, io.StreamOpened):
            return [io.SendStream(b"\x01\xfe\x80\x01\x00\x00\x00\x03req", 1)]
        if isinstance(event, io.StreamData):
            self.done = True
            return [io.CloseStream(1)]
        return []

    def next_deadline(self):
        return None


def test_runner_timeline_becomes_a_readable_capture(tmp_path):
    """A timeline as the runner records it on the sim rig (payload-only records, tcp open/close records)."""
    runner = Runner(VirtualClock(epoch=1764250000.0))
    hub, fabric = InprocHub(runner, 0.001), InprocIpFabric(runner, 0.001)
    pev = runner.add(Node("pev", Client(), "02:00:00:00:00:01", "fe80::1"))
    evse = runner.add(Node("evse", Server(), "02:00:00:00:00:02", "fe80::2", role="dut"))
    for node in (pev, evse):
        hub.attach(node)
        fabric.attach(node)
    assert runner.run(lambda: pev.endpoint.done, SpecTimer("T", 1.0))
    runner.run(None, SpecTimer("T_settle", 0.01))
    records = runner.timeline.records
    path = tmp_path / "sim.pcapng"
    stats = write_pcapng(records, path, title="sim", dut_role="evse")
    packets = read(path)
    assert stats.real == 1 and stats.synthetic == 4  # MME; SDP req/res; V2GTP req/res
    kinds = [(p[IPv6].src, p[TCP].sport, str(p[TCP].flags), bytes(p[TCP].payload)) for p in packets if TCP in p]
    client = [k for k in kinds if k[0] == "fe80::1"]
    server = [k for k in kinds if k[0] == "fe80::2"]
    assert client[0][2] == "S" and server[0][2] == "SA"
    assert all(k[1] == 15118 for k in server) and all(k[1] != 15118 for k in client)
    assert any(k[3].endswith(b"req") for k in client) and any(k[3].endswith(b"res") for k in server)
    assert float(packets[0].time) >= 1764250000.0
    assert "synthetic" in comments(next(p for p in packets if UDP in p))


def test_timeline_without_bytes_gives_no_frames(tmp_path, cp_sequence):
    stats = write_pcapng(cp_sequence, tmp_path / "cp.pcapng")
    assert stats.real == stats.synthetic == 0 and stats.without_bytes == len(cp_sequence) - 1
    assert read(tmp_path / "cp.pcapng") == []


def test_whole_frame_in_record_is_used_as_is(tmp_path):
    from harness.records import Record

    frame = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6(src="fe80::1", dst="fe80::2")
                  / UDP(sport=1, dport=15118) / b"\x01\xfe\x90\x00\x00\x00\x00\x02\x10\x00")
    records = [Record(0, "meta", "stream", extra={"clock": "capture", "epoch": 0.0}),
               Record(1700000000.5, "sdp", "SDP.REQ", raw="01fe9000000000021000", extra={"frame": frame.hex()})]
    write_pcapng(records, tmp_path / "f.pcapng")
    (packet,) = read(tmp_path / "f.pcapng")
    assert bytes(packet) == frame and float(packet.time) == 1700000000.5


def test_synthetic_headers_are_valid(tmp_path, din_pass):
    """Every checksum and length field we write equals what scapy computes for the same packet."""
    path = tmp_path / "c.pcapng"
    write_pcapng(din_pass, path, dut_role="evse")
    checked = 0
    for packet in read(path):
        if IPv6 not in packet:
            continue
        layer = packet[TCP] if TCP in packet else packet[UDP]
        again = packet.__class__(bytes(packet))
        del again[IPv6].plen
        del again[type(layer)].chksum
        if UDP in again:
            del again[UDP].len
        rebuilt = again.__class__(bytes(again))
        assert rebuilt[type(layer)].chksum == layer.chksum, packet.summary()
        assert rebuilt[IPv6].plen == packet[IPv6].plen
        checked += 1
    assert checked > 140
