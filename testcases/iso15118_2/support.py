"""Small readers and checks the ISO 15118-2 catalogue modules share, on top of the `v2g` fixture.

Every failure goes through `v2g.fail`/`v2g.check` (naming the test's requirement, with the timeline); every wait
is bounded by the spec timer it stands for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.catalogue import Exchange
from harness.records import Record
from stack.sessions.iso15118_2 import V2G_SECC_Sequence_Timeout
from stack.timers import SpecTimer

DC = "iso2-dc"
AC = "iso2-ac"


def answer(v2g: Any, request: Record, code: str | Iterable[str] | None = None) -> Record:
    """The DUT's answer to `request` (a record of ours): of the same pair, carrying `code` (one of several) when
    given, and — also when it came before we asked — within V2G_EVCC_Msg_Timeout of the request."""
    __tracebackhide__ = True
    response = v2g.expect_answer(request, code=code)
    pair = "SupportedAppProtocol" if request.name.startswith("supportedAppProtocol") else request.name[:-3]
    limit, elapsed = v2g.timeout(pair), response.t - request.t
    v2g.check(elapsed <= limit.seconds + 1e-9, f"{response.name} came {elapsed * 1000:.0f} ms after "
              f"{request.name}, allowed <= {limit}", mark=response)
    return response


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
    return v2g.expect(predicate, limit, after=after, what=what, stop_at_end=False)


def assert_dut_closes(v2g: Any, after: Record, within: SpecTimer, allowance: SpecTimer | None = None) -> Record:
    """`v2g.assert_dut_closes` (the DUT's own close, waited for also after our tester's session ended)."""
    __tracebackhide__ = True
    if allowance is None:
        return v2g.assert_dut_closes(after, within)
    return v2g.assert_dut_closes(after, within, allowance=allowance)
