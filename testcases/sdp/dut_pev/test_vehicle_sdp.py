"""SECC Discovery Protocol (ISO 15118-2 §7.10.1, DIN SPEC 70121), vehicle under test: where and what the car asks,
and how it repeats when our charger does not answer (SDP_REQ, at most 50 requests).

Precondition on real rigs: a CCS vehicle plugged in, wanting energy; SLAC runs first where the rig's PLC link
needs it.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from harness.catalogue import Fault
from harness.catalogue.link import T_slac
from stack.sdp import SDP_MAX_REQUEST_COUNTER, SDP_MULTICAST_GROUP, SDP_REQ, SDP_SERVER_PORT
from stack.timers import SpecTimer

pytestmark = pytest.mark.dut_role("pev")

RETRY_JITTER_S = 0.005  # ccs-hil working value: timestamp jitter of a real bench
T_all_requests = SpecTimer("SDP_REQ×50+5s", SDP_REQ.seconds * SDP_MAX_REQUEST_COUNTER + 5.0,
                           "[V2G2-161] 50 requests SDP_REQ apart, + 5 s to see whether more come")


def first_request(link, protocol: str = "din", **start):
    link.start(protocol, slac=None, **start)
    request = link.next_datagram("SDP.REQ", T_slac)
    if request is None:
        link.fail(f"the car sent no SECC Discovery Request within {T_slac}")
    return request


@pytest.mark.smoke
@pytest.mark.requirement("V2G2-139")
@pytest.mark.fails_with("pev-no-sdp")
def test_vehicle_sends_sdp_requests_to_ff02_1(link):
    """The car multicasts its SECC Discovery Request to ff02::1, UDP port 15118."""
    request = first_request(link)
    link.check(request.dst == f"[{SDP_MULTICAST_GROUP}]:{SDP_SERVER_PORT}",
               f"SECC Discovery Request to {request.dst}", mark=request)


@pytest.mark.smoke
@pytest.mark.requirement("V2G2-623")
@pytest.mark.fails_with("pev-sdp-udp")
def test_vehicle_asks_for_tcp_with_valid_codes(link):
    """The car's SECC Discovery Request carries valid codes (security 0x00/0x10) and asks for TCP (0x00)."""
    request = first_request(link, "iso2-dc")
    link.check(not request.error and link.value(request, "transport") == "TCP" and
               link.value(request, "security") in ("TLS", "no TLS"),
               f"SECC Discovery Request: {request.error or request.body}", mark=request)


@pytest.mark.requirement("CCSHIL-SDP-EV-01")
@pytest.mark.fails_with("pev-sdp-asks-tls")
def test_din_vehicle_asks_for_no_tls(link):
    """In a DIN 70121 session the car asks for security "no TLS" (0x10)."""
    request = first_request(link, "din")
    link.check(link.value(request, "security") == "no TLS", f"security {link.value(request, 'security')}",
               mark=request)


@pytest.mark.requirement("V2G2-159")
@pytest.mark.fails_with("pev-sdp-retry-burst")
def test_vehicle_repeats_an_unanswered_request_after_SDP_REQ(link):
    """Without an answer the car repeats its SECC Discovery Request, each no sooner than SDP_REQ (250 ms) after the
    previous one."""
    link.start("din", slac=None, faults=[Fault("SDP.RES", "drop", times=3)])
    link.next_datagram("SDP.REQ", T_slac, nth=4)
    requests = link.datagrams("SDP.REQ")
    link.check(len(requests) >= 2, f"{len(requests)} SECC Discovery Request(s) while we did not answer",
               mark=requests[0] if requests else None)
    for before, after in pairwise(requests):
        link.check(after.t - before.t >= SDP_REQ.seconds - RETRY_JITTER_S,
                   f"request repeated {(after.t - before.t) * 1000:.1f} ms after the previous one "
                   f"(no sooner than {SDP_REQ})", mark=after)


@pytest.mark.requirement("V2G2-161")
@pytest.mark.fails_with("pev-sdp-endless")
def test_vehicle_sends_at_most_50_sdp_requests(link):
    """A car that gets no answer sends at most 50 SECC Discovery Requests."""
    link.start("din", slac=None, faults=[Fault("SDP.RES", "drop", times=None)])
    link.next_datagram("SDP.REQ", T_slac)
    link.hold(T_all_requests, "the car repeats its request")
    requests = link.datagrams("SDP.REQ")
    link.check(len(requests) <= SDP_MAX_REQUEST_COUNTER,
               f"{len(requests)} SECC Discovery Requests without an answer (at most {SDP_MAX_REQUEST_COUNTER})",
               mark=requests[SDP_MAX_REQUEST_COUNTER] if len(requests) > SDP_MAX_REQUEST_COUNTER else None)
