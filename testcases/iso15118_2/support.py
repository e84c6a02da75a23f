"""Small readers and checks the ISO 15118-2 catalogue modules share, on top of the `v2g` fixture.

Every failure goes through `v2g.fail`/`v2g.check` (naming the test's requirement, with the timeline); every wait
is bounded by the spec timer it stands for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.catalogue import Exchange, T_reaction
from harness.records import Record
from stack.sessions.iso15118_2 import V2G_SECC_Sequence_Timeout
from stack.timers import SpecTimer

DC = "iso2-dc"
AC = "iso2-ac"


def is_request_to_dut(name: str | None = None):
    return lambda r: r.layer == "exi" and r.dir == "to_dut" and r.name.endswith("Req") and (
        name is None or r.name == name)


def staged(v2g: Any, what: str = "the staged request") -> Record:
    """The request our tester sent when its staged fault fired (the first `fault` record of the tester)."""
    tester = v2g.tester_node.name
    fired = v2g.expect(lambda r: r.layer == "state" and r.name == "fault" and r.src == tester,
                       what=f"our tester stages {what}")
    return v2g.expect(is_request_to_dut(), after=v2g.index(fired), what=f"our tester sends {what}")


def answer(v2g: Any, request: Record, code: str | Iterable[str] | None = None) -> Record:
    """The DUT's answer to `request` (a record of ours): within V2G_EVCC_Msg_Timeout of its pair, of the same pair,
    carrying `code` (one of several) when given."""
    __tracebackhide__ = True
    pair = "SupportedAppProtocol" if request.name.startswith("supportedAppProtocol") else request.name[:-3]
    limit = v2g.timeout(pair)
    position = v2g.index(request)
    v2g.run_until(lambda r: r.layer == "exi" and r.dir == "from_dut", limit, after=position + 1,
                  what=f"the DUT answers {request.name}")
    exchange = exchange_of(v2g, request)
    if exchange is None or exchange.response is None:
        v2g.fail(f"no answer to {request.name} within {limit}", mark=request)
    assert exchange is not None and exchange.response is not None
    response = exchange.response
    expected = "supportedAppProtocolRes" if pair == "SupportedAppProtocol" else f"{pair}Res"
    v2g.check(response.name == expected, f"{request.name} answered with {response.name}, expected {expected}",
              mark=response)
    elapsed = exchange.elapsed or 0.0
    v2g.check(elapsed <= limit.seconds + 1e-9, f"{response.name} came {elapsed * 1000:.0f} ms after "
              f"{request.name}, allowed <= {limit}", mark=response)
    if code is not None:
        wanted = (code,) if isinstance(code, str) else tuple(code)
        got = v2g.code(response)
        v2g.check(got in wanted, f"{response.name} ResponseCode {got}, expected {' or '.join(wanted)}",
                  mark=response)
    return response


def exchange_of(v2g: Any, request: Record) -> Exchange | None:
    return next((e for e in v2g.exchanges() if e.request is request), None)


def answered(v2g: Any, pair: str) -> list[Exchange]:
    """The completed exchanges of `pair` (request and response)."""
    return [e for e in v2g.exchanges(pair) if e.response is not None]


def next_request(v2g: Any, after: Record, limit: SpecTimer = V2G_SECC_Sequence_Timeout,
                 what: str = "") -> Record:
    """The DUT car's first request after `after` (a record): it must come before V2G_SECC_Sequence_Timeout."""
    __tracebackhide__ = True
    return v2g.expect(lambda r: r.layer == "exi" and r.dir == "from_dut" and r.name.endswith("Req"), limit,
                      after=v2g.index(after) + 1, what=what or f"the DUT's next request after {after.name}")


def first_response(v2g: Any, name: str, where=None, what: str = "") -> Record:
    """The DUT's first `name` response (optionally one that `where(record)` accepts)."""
    return v2g.expect(lambda r: r.layer == "exi" and r.dir == "from_dut" and r.name == name
                      and (where is None or where(r)), what=what or name)


def requests_from_dut(v2g: Any, name: str | None = None) -> list[Record]:
    return v2g.messages(name, sender="dut", where=lambda r: r.name.endswith("Req"))


def evse_status(v2g: Any, record: Record) -> dict[str, Any]:
    """DC_EVSEStatus or AC_EVSEStatus of a response (whichever it carries), {} when none."""
    for key in ("DC_EVSEStatus", "AC_EVSEStatus"):
        status = v2g.field(record, key)
        if isinstance(status, dict):
            return status
    for parent in ("DC_EVSEChargeParameter", "AC_EVSEChargeParameter"):
        for key in ("DC_EVSEStatus", "AC_EVSEStatus"):
            status = v2g.field(record, f"{parent}.{key}")
            if isinstance(status, dict):
                return status
    return {}


def wait_for(v2g: Any, predicate, limit: SpecTimer, after: int, what: str) -> Record:
    """The first record after timeline index `after` that `predicate` accepts, waiting at most `limit` — also
    after our tester's current session has ended (a resumed session is a new one)."""
    __tracebackhide__ = True
    found = wait_for_or_none(v2g, predicate, limit, after, what)
    if found is None:
        v2g.fail(f"{what} did not happen within {limit}", mark=len(v2g.timeline.records) - 1)
    return found  # type: ignore[return-value]


def assert_dut_closes(v2g: Any, after: Record, within: SpecTimer, allowance: SpecTimer = T_reaction) -> Record:
    """The DUT closes the TCP connection within `within` (+ `allowance`) after `after`. Unlike
    `v2g.assert_dut_closes`, the wait is not cut short when our tester's session has already ended (a tester that
    staged silence or a FAILED answer has ended; the connection is still open and the DUT's timer still runs)."""
    __tracebackhide__ = True
    start = v2g.index(after)
    bound = SpecTimer(f"{within.name}+{allowance.name}", within.seconds + allowance.seconds, within.source)
    ip = v2g.tester_node.ipv6
    closed = wait_for_or_none(v2g, lambda r: r.layer == "tcp" and r.name == "closed" and r.dst == ip, bound, start,
                              f"the DUT closes the connection within {within}")
    if closed is None:
        v2g.fail(f"the DUT did not close the TCP connection within {within} (+ {allowance}) after {after.name}",
                 mark=start)
    assert closed is not None
    elapsed = closed.t - after.t
    v2g.check(elapsed <= bound.seconds + 1e-9, f"the DUT closed the connection {elapsed:.3f} s after {after.name}, "
              f"allowed <= {within} + {allowance}", mark=closed)
    return closed


def wait_for_or_none(v2g: Any, predicate, limit: SpecTimer, after: int, what: str) -> Record | None:
    records = v2g.timeline.records
    state = {"pos": after, "found": None}

    def reached() -> bool:
        while state["pos"] < len(records):
            record = records[state["pos"]]
            state["pos"] += 1
            if predicate(record):
                state["found"] = record
                return True
        return False

    v2g.bench.wait_for(reached, limit, what)
    return state["found"]
