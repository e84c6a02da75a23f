"""SECC Discovery Protocol (ISO 15118-2 §7.10.1, DIN SPEC 70121), charger under test: its answers to our car's
SECC Discovery Requests — address, port, security, transport —, how fast, and what it must not answer.

The TCP port: ISO 15118-2 chargers announce a dynamic port (49152–65535; Josev rejects others), while DIN chargers in
the field announce 15118 (pyPLC, the shared captures): the range is checked for ISO-2 only; for both, the announced
port must be the one the charger accepts the V2G connection on.

Precondition on real rigs: a CCS charger; SLAC runs first where the rig's PLC link needs it.
"""

from __future__ import annotations

import ipaddress

import pytest

from harness.catalogue import Fault
from harness.catalogue.link import T_slac
from stack.sdp import SDP_MULTICAST_GROUP, SDP_REQ, SDP_SERVER_PORT, SDP_TCP_PORT_RANGE

pytestmark = pytest.mark.dut_role("evse")


def host(address: str | None) -> str:
    """"[fe80::1]:15118" → "fe80::1"."""
    return (address or "").rsplit(":", 1)[0].strip("[]")


def first_exchange(link, protocol: str = "din", **start):
    """Our first SECC Discovery Request and the charger's answer to it (None when none came within SDP_REQ)."""
    link.start(protocol, slac=None, **start)
    request = link.next_datagram("SDP.REQ", T_slac, sender="tester")
    if request is None:
        link.fail(f"our car sent no SECC Discovery Request within {T_slac}")
    answer = link.next_datagram("SDP.RES", SDP_REQ, after=request)
    return request, answer


def answered(link, protocol: str = "din", **start):
    request, answer = first_exchange(link, protocol, **start)
    link.check(answer is not None, f"SECC Discovery Response within {SDP_REQ} of our request: "
                                   f"{'yes' if answer else 'none'}", mark=request)
    return request, answer


@pytest.mark.smoke
@pytest.mark.requirement("CCSHIL-SDP-SE-01")
@pytest.mark.fails_with("evse-sdp-slow", "evse-no-sdp-response")
def test_charger_answers_sdp_within_SDP_REQ(link):
    """The charger answers an SECC Discovery Request within SDP_REQ (250 ms), before the car repeats it."""
    request, answer = answered(link)
    link.check(answer.t - request.t <= SDP_REQ.seconds + 1e-9,
               f"SECC Discovery Response {(answer.t - request.t) * 1000:.1f} ms after the request", mark=answer)


@pytest.mark.requirement("V2G2-139")
@pytest.mark.fails_with("evse-sdp-replies-to-multicast")
def test_charger_answers_a_request_sent_to_ff02_1(link):
    """The charger answers a request sent to ff02::1 UDP 15118 with a unicast response back to the requester."""
    request, answer = answered(link)
    link.check(request.dst == f"[{SDP_MULTICAST_GROUP}]:{SDP_SERVER_PORT}", f"staging: our request went to "
                                                                            f"{request.dst}", mark=request)
    link.check(host(answer.dst) == link.tester_ip and host(answer.src) != SDP_MULTICAST_GROUP,
               f"response from {answer.src} to {answer.dst} (expected unicast to us, {link.tester_ip})", mark=answer)


@pytest.mark.requirement("CCSHIL-SDP-SE-02")
@pytest.mark.fails_with("evse-sdp-wrong-address")
def test_charger_announces_its_own_link_local_address(link):
    """The response announces the charger's own link-local IPv6 address: the one it answers from, in fe80::/10."""
    _, answer = answered(link)
    announced = str(link.value(answer, "ip"))
    link.check(announced == host(answer.src) and ipaddress.IPv6Address(announced).is_link_local,
               f"announced {announced}, answered from {host(answer.src)}", mark=answer)


@pytest.mark.smoke
@pytest.mark.requirement("V2G2-156")
@pytest.mark.fails_with("evse-sdp-wrong-port")
def test_charger_accepts_the_v2g_connection_on_the_announced_port(link):
    """The announced address and port (big-endian on the wire) are where the charger accepts our TCP connection and
    answers supportedAppProtocolReq."""
    _, answer = answered(link)
    link.expect_response("SupportedAppProtocol")
    opened = [r for r in link.timeline.records[link.index(answer):] if r.layer == "tcp" and r.name == "connect"]
    port = link.value(answer, "port")
    link.check(opened and opened[0].dst == f"[{link.value(answer, 'ip')}]:{port}",
               f"our connection went to {opened[0].dst if opened else 'nowhere'}, the announced "
               f"[{link.value(answer, 'ip')}]:{port}", mark=opened[0] if opened else answer)


@pytest.mark.requirement("CCSHIL-SDP-SE-03")
@pytest.mark.fails_with("evse-sdp-port-15118")
def test_iso2_charger_announces_a_dynamic_tcp_port(link):
    """An ISO 15118-2 charger announces a TCP port from the dynamic range 49152–65535."""
    _, answer = answered(link, "iso2-dc")
    port = int(link.value(answer, "port", 0))
    low, high = SDP_TCP_PORT_RANGE
    link.check(low <= port <= high, f"announced TCP port {port} (expected {low}–{high})", mark=answer)


@pytest.mark.requirement("V2G-DC-618")
@pytest.mark.fails_with("evse-sdp-tls-only", "evse-sdp-udp-transport")
def test_din_charger_answers_tcp_without_tls(link):
    """A DIN 70121 charger answers with transport TCP and security "no TLS", even to a car that asks for TLS."""
    _, answer = answered(link, "din", tester={"sdp_security": "tls"})
    security, transport = link.value(answer, "security"), link.value(answer, "transport")
    link.check(security == "no TLS" and transport == "TCP",
               f"DIN SECC Discovery Response: security {security}, transport {transport} (expected no TLS, TCP)",
               mark=answer)


@pytest.mark.requirement("CCSHIL-SDP-SE-04")
@pytest.mark.fails_with("evse-sdp-tls-only")
def test_charger_answers_no_tls_to_a_car_that_asks_for_no_tls(link):
    """A car that asks for "no TLS" gets "no TLS": the charger does not impose TLS in SDP."""
    _, answer = answered(link, "iso2-dc")
    security = link.value(answer, "security")
    link.check(security == "no TLS", f"security {security} in the answer to a request for no TLS", mark=answer)


@pytest.mark.requirement("CCSHIL-SDP-SE-05")
@pytest.mark.fails_with("evse-sdp-udp-transport")
def test_charger_announces_tcp_transport(link):
    """The response announces transport TCP (0x00): V2G messages run over TCP."""
    _, answer = answered(link, "iso2-dc")
    transport = link.value(answer, "transport")
    link.check(transport == "TCP", f"transport {transport} (expected TCP)", mark=answer)


@pytest.mark.requirement("CCSHIL-SDP-SE-06")
@pytest.mark.fails_with("evse-sdp-answers-once")
def test_charger_answers_a_repeated_request(link):
    """The charger answers every SECC Discovery Request, also one the car repeats."""
    link.start("din", slac=None, faults=[Fault("SDP.REQ", "duplicate", 2)])
    first = link.next_datagram("SDP.REQ", T_slac, sender="tester")
    link.check(first is not None, "our car sent SECC Discovery Requests")
    link.hold(SDP_REQ, "the charger answers both copies")
    requests = link.datagrams("SDP.REQ", sender="tester")
    answers = link.datagrams("SDP.RES")
    link.check(len(requests) >= 2 and len(answers) >= len(requests),
               f"{len(answers)} SECC Discovery Response(s) to {len(requests)} requests", mark=first)


@pytest.mark.requirement("CCSHIL-SDP-SE-07")
@pytest.mark.fails_with("evse-sdp-answers-malformed")
def test_charger_ignores_a_malformed_request(link):
    """A malformed SECC Discovery Request (security 0x55) is not answered; the car's next, valid one is."""
    link.start("din", slac=None, faults=[Fault("SDP.REQ", "set_field", {"security": 0x55})])
    bad = link.next_datagram("SDP.REQ", T_slac, sender="tester")
    link.check(bad is not None and bad.error, "staging: our first SECC Discovery Request is malformed",
               mark=bad)
    assert bad is not None
    good = link.next_datagram("SDP.REQ", SDP_REQ, sender="tester", after=bad)
    link.check(good is not None, "our car repeated its request after SDP_REQ", mark=bad)
    assert good is not None
    early = link.datagrams("SDP.RES", after=bad)
    early = [r for r in early if r.t < good.t]
    link.check(not early, f"{len(early)} SECC Discovery Response(s) to the malformed request (expected none)",
               mark=early[0] if early else bad)
    answer = link.next_datagram("SDP.RES", SDP_REQ, after=good)
    link.check(answer is not None, f"answer to the valid request: {'yes' if answer else 'none'}", mark=good)
