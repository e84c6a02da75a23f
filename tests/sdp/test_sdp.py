"""SDP codec (bytes from the Ioniq capture) and the client/server machines with their spec timers."""

from __future__ import annotations

import pytest

from stack import sansio as io
from stack import sdp
from stack.errors import MalformedInput
from stack.sdp import SDP_REQ, SdpClient, SdpRequest, SdpResponse, SdpServer, Security, Transport

# Ioniq capture (pyPLC as SECC): request from the car, response announcing port 15118 (0x3b0e)
CAR_REQ = bytes.fromhex("01fe9000000000021000")
PYPLC_RES = bytes.fromhex("01fe900100000014" "fe80000000000000c69083f3fbcb980e" "3b0e" "1000")


def test_captured_bytes_decode():
    assert sdp.decode(CAR_REQ) == SdpRequest(Security.NO_TLS, Transport.TCP)
    assert sdp.decode(PYPLC_RES) == SdpResponse("fe80::c690:83f3:fbcb:980e", 15118, Security.NO_TLS, Transport.TCP)
    assert sdp.decode(PYPLC_RES).to_bytes() == PYPLC_RES
    assert SdpRequest().to_bytes() == CAR_REQ


def test_scapy_layers_match_the_fast_path():
    from stack.v2gtp import V2GTP

    packet = V2GTP(PYPLC_RES)
    assert packet[sdp.SDPResponse].secc_port == 15118
    assert packet[sdp.SDPResponse].secc_ip == "fe80::c690:83f3:fbcb:980e"
    assert bytes(V2GTP(payload_type=0x9000) / sdp.SDPRequest()) == CAR_REQ


@pytest.mark.parametrize(("raw", "match"), [
    (bytes.fromhex("01fe90000000000310000a"), "payload is 3 bytes, expected 2"),
    (bytes.fromhex("01fe9000000000022000"), "security 0x20"),
    (bytes.fromhex("01fe9000000000021001"), "transport 0x01"),
    (bytes.fromhex("01fe8001000000021000"), "payload type 0x8001 not supported"),
])
def test_malformed_datagrams_are_typed(raw, match):
    with pytest.raises(MalformedInput, match=match):
        sdp.decode(raw)


def run_client(client, replies):
    """Feed the client Ticks at its deadlines; `replies` maps request number -> datagram to answer with."""
    out = client.handle(io.Start(), 0.0)
    sent = [0.0]
    while not client.done:
        number = client.requests_sent
        if number in replies:
            out += client.handle(io.DatagramReceived(replies.pop(number), ("fe80::2", 15118), ("fe80::1", 5)),
                                 sent[-1] + 0.01)
            continue
        now = client.next_deadline()
        out += client.handle(io.Tick(), now)
        if not client.done:
            sent.append(now)
    return out, sent


def test_client_retries_every_250_ms_and_gives_up_after_50_requests():
    client = SdpClient()
    out, sent = run_client(client, {})
    assert client.requests_sent == 50 == len([o for o in out if isinstance(o, io.SendDatagram)])
    assert sent[1] - sent[0] == pytest.approx(SDP_REQ.seconds)
    assert sent[-1] == pytest.approx(49 * 0.25)
    failed = [o for o in out if isinstance(o, io.Notify) and o.name == "failed"]
    assert failed and failed[0].data["requirement"] == "V2G2-161"
    assert client.next_deadline() is None
    sends = [o for o in out if isinstance(o, io.SendDatagram)]
    assert {s.dst for s in sends} == {("ff02::1", 15118)}


def test_client_takes_the_first_usable_response():
    client = SdpClient()
    tls_only = SdpResponse("fe80::2", 50000, Security.TLS).to_bytes()
    good = SdpResponse("fe80::2", 50001).to_bytes()
    out, _ = run_client(client, {2: b"garbage", 3: tls_only, 4: good})
    assert client.result == SdpResponse("fe80::2", 50001)
    invalid = [o.data["error"] for o in out if isinstance(o, io.Notify) and o.name == "invalid"]
    assert len(invalid) == 2 and "only TLS" in invalid[1]
    assert client.requests_sent == 4


def test_server_waits_for_its_port_then_answers_unicast_from_15118():
    server = SdpServer()
    assert server.handle(io.Start(ipv6="fe80::2"), 0.0) == [io.BindUdp(15118, "ff02::1")]
    request = io.DatagramReceived(CAR_REQ, ("fe80::9", 50035), ("ff02::1", 15118))
    assert server.handle(request, 0.1) == []
    out = server.handle(io.Listening(51181), 0.2)
    assert out == [io.SendDatagram(SdpResponse("fe80::2", 51181).to_bytes(), ("fe80::9", 50035), src_port=15118)]


def test_server_security_choice():
    server = SdpServer(ip="fe80::2", port=50000)
    tls_request = SdpRequest(Security.TLS).to_bytes()
    answer = server.handle(io.DatagramReceived(tls_request, ("fe80::9", 1), ("ff02::1", 15118)), 0)
    assert sdp.decode(answer[0].data).security == Security.NO_TLS  # no TLS support: plain TCP
    server.tls_supported = True
    answer = server.handle(io.DatagramReceived(tls_request, ("fe80::9", 1), ("ff02::1", 15118)), 0)
    assert sdp.decode(answer[0].data).security == Security.TLS
    server.din_only = True  # [V2G-DC-618]
    answer = server.handle(io.DatagramReceived(tls_request, ("fe80::9", 1), ("ff02::1", 15118)), 0)
    assert sdp.decode(answer[0].data).security == Security.NO_TLS
    udp_request = SdpRequest(Security.NO_TLS, Transport.UDP).to_bytes()
    answer = server.handle(io.DatagramReceived(udp_request, ("fe80::9", 1), ("ff02::1", 15118)), 0)
    assert sdp.decode(answer[0].data).transport == Transport.TCP
