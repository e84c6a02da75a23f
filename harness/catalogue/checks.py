"""The checks most catalogue tests share, as a mixin of `harness.catalogue.v2g.V2G` (which owns the bench, the
timeline and `fail`/`check`). Each fails through `harness.assertions.fail_with_timeline`, so the message names the
test's requirement(s) and shows the timeline around the offending record."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.catalogue import points
from harness.catalogue.points import Exchange
from harness.records import Record
from stack.sessions.sequence import SequenceContext
from stack.timers import SpecTimer

T_reaction = SpecTimer("T_reaction", 0.5, "ccs-hil working value: how long a DUT may take to act on an expired timer "
                       "or a received message (close the connection, stop), beyond the spec timer itself")


class Checks:
    """See the module docstring; attributes come from `V2G`."""

    # V2G provides: timeline, expect, run_until, exchanges, fail, check, index, timeout, closed_by_dut,
    # tester_records, messages, tester_node, table, run_to_end
    timeline: Any
    tester_node: Any
    table: Any
    run_to_end: Any
    expect: Any
    run_until: Any
    exchanges: Any
    fail: Any
    check: Any
    index: Any
    timeout: Any
    closed_by_dut: Any
    closed_by_tester: Any
    tester_records: Any
    messages: Any

    # ------------------------------------------------------------------ responses of a DUT charger

    def expect_response(self, pair: str, *, nth: int = 1, code: str | Iterable[str] | None = None) -> Record:
        """Run until the DUT answers the `nth` `pair` request (e.g. "CableCheck"); the answer must be `pairRes` and,
        when given, carry ResponseCode `code` (or one of several). Returns the response record."""
        __tracebackhide__ = True
        name = "supportedAppProtocolReq" if pair == "SupportedAppProtocol" else f"{pair}Req"
        request = self.expect(name, nth=nth, what=f"the tester sends {name}" + (f" #{nth}" if nth > 1 else ""))
        return self.expect_answer(request, code=code)

    def staged(self, nth: int = 1) -> Record:
        """The message our tester sent under its `nth` injected fault (`start(faults=...)`), once it was sent."""
        __tracebackhide__ = True
        node = self.tester_node.name
        fired = self.expect(lambda r: r.layer == "state" and r.name == "fault" and r.src == node, nth=nth,
                            what="the tester's staged fault fires")
        return self.expect(lambda r: r.layer == "exi" and r.dir == "to_dut", after=self.index(fired),
                           what="the tester sends the staged message")

    def expect_answer(self, request: Record, *, code: str | Iterable[str] | None = None) -> Record:
        """The DUT's answer to one of our requests (a record): within V2G_EVCC_Msg_Timeout of its pair, of the
        request's type, with ResponseCode `code` (or one of several) when given."""
        __tracebackhide__ = True
        name = request.name
        pair = points.pair_of(name)
        exchange = next((e for e in self.exchanges() if e.request is request), None)
        if exchange is None or exchange.response is None:
            self.run_until(lambda r: r.layer == "exi" and r.dir == "from_dut" and self.index(r) > self.index(request),
                           self.timeout(pair), what=f"the DUT answers {name}", stop_at_end=False)
            exchange = next((e for e in self.exchanges() if e.request is request), None)
        if exchange is None or exchange.response is None:
            self.fail(f"no answer to {name} within {self.timeout(pair)}", mark=request)
        assert exchange is not None and exchange.response is not None
        response = exchange.response
        expected = "supportedAppProtocolRes" if pair == "SupportedAppProtocol" else f"{pair}Res"
        self.check(response.name == expected, f"{name} answered with {response.name}, expected {expected}",
                   mark=response)
        if code is not None:
            wanted = (code,) if isinstance(code, str) else tuple(code)
            got = points.code(response)
            self.check(got in wanted, f"{response.name} ResponseCode {got}, expected {' or '.join(wanted)}",
                       mark=response)
        return response

    def assert_answered_in_time(self, pairs: Iterable[str] | None = None) -> list[Exchange]:
        """Every request of ours (of `pairs`, default all) got its response within its V2G_EVCC_Msg_Timeout. A
        request our tester cut short (it closed the connection on its own timer, e.g. V2G_EVCC_PreCharge_Timeout,
        before the request's timeout ran out) is no evidence either way and is left out."""
        __tracebackhide__ = True
        wanted = set(pairs) if pairs is not None else None
        checked = []
        for exchange in self.exchanges():
            if exchange.request.dir != "to_dut" or (wanted is not None and exchange.pair not in wanted):
                continue
            limit = self.timeout(exchange.pair)
            if exchange.response is None:
                if self.cut_short(exchange):
                    continue
                self.fail(f"no answer to {exchange.request.name} within {limit}", mark=exchange.index)
            expected = "supportedAppProtocolRes" if exchange.pair == "SupportedAppProtocol" else f"{exchange.pair}Res"
            self.check(exchange.response.name == expected,
                       f"{exchange.request.name} answered with {exchange.response.name}", mark=exchange.response_index)
            elapsed = exchange.elapsed or 0.0
            self.check(elapsed <= limit.seconds + 1e-9,
                       f"{exchange.response.name} came {elapsed * 1000:.1f} ms after {exchange.request.name}, "
                       f"allowed <= {limit}", mark=exchange.response_index)
            checked.append(exchange)
        if wanted:
            missing = wanted - {e.pair for e in checked}
            self.check(not missing, f"the session never reached {', '.join(sorted(missing))}")
        return checked

    def cut_short(self, exchange: Exchange) -> bool:
        """Our request got no answer because our tester itself closed the connection (its own timer, e.g.
        V2G_EVCC_PreCharge_Timeout) before the request's V2G_EVCC_Msg_Timeout ran out: no evidence either way."""
        if exchange.response is not None:
            return False
        cut = self.closed_by_tester(exchange.index)
        return cut is not None and cut.t - exchange.request.t < self.timeout(exchange.pair).seconds - 1e-6

    # ------------------------------------------------------------------ connection and session end

    def assert_dut_closes(self, after: Record | int, within: SpecTimer, *, not_before: SpecTimer | None = None,
                          allowance: SpecTimer = T_reaction) -> Record:
        """The DUT closes the TCP connection within `within` (+ `allowance`) after `after` (a record or index),
        and not before `not_before` when given. Returns the close record."""
        __tracebackhide__ = True
        start = self.index(after) if isinstance(after, Record) else after
        t0 = self.timeline.records[start].t
        bound = SpecTimer(f"{within.name}+{allowance.name}", within.seconds + allowance.seconds, within.source)
        self.run_until(lambda r: r.layer == "tcp" and r.name == "closed" and self.closed_by_dut(start) is r, bound,
                       after=start, what=f"the DUT closes the connection within {within}", stop_at_end=False)
        closed = self.closed_by_dut(start)
        if closed is None:
            self.fail(f"the DUT did not close the TCP connection within {within} (+ {allowance})", mark=start)
        assert closed is not None
        elapsed = closed.t - t0
        self.check(elapsed <= bound.seconds + 1e-9,
                   f"the DUT closed the connection {elapsed:.3f} s after #{start}, allowed <= {within} + {allowance}",
                   mark=closed)
        if not_before is not None:
            self.check(elapsed >= not_before.seconds - 1e-9,
                       f"the DUT closed the connection {elapsed:.3f} s after #{start}, before {not_before} ran out",
                       mark=closed)
        return closed

    def assert_no_request_from_dut(self, after: Record | int, *, allowed: Iterable[str] = ()) -> None:
        """The DUT (a car) sent no request after `after`, other than the `allowed` names."""
        __tracebackhide__ = True
        start = self.index(after) if isinstance(after, Record) else after
        allowed = set(allowed)
        for record in self.messages(sender="dut", after=start + 1):
            if record.name.endswith("Req") and record.name not in allowed:
                self.fail(f"the DUT sent {record.name} after #{start}", mark=record)
        self.check(True, f"no request from the DUT after #{start}")

    def assert_no_findings(self) -> None:
        """Our tester saw the DUT break no rule it checks itself (no `peer_error` record of the tester)."""
        __tracebackhide__ = True
        findings = self.tester_records("peer_error")
        if findings:
            body = findings[0].body or {}
            self.fail(f"the tester found: {body.get('error')} [{body.get('requirement')}]", mark=findings[0])

    # ------------------------------------------------------------------ a DUT car's request sequence

    def sequence(self) -> list[tuple[Exchange, str]]:
        """Each completed exchange with the state it leaves the session in (the sequence table's state names:
        "SupportedAppProtocol", "CableCheck.Ongoing", "PowerDelivery.Stop.DC", ...)."""
        table, context = self.table, SequenceContext()
        out: list[tuple[Exchange, str]] = []
        for exchange in self.exchanges():
            if exchange.response is None:
                break
            if exchange.pair == "SupportedAppProtocol":
                state = "SupportedAppProtocol"
            else:
                state = table.outcome(exchange.pair, points.body(exchange.request), points.body(exchange.response),
                                      context)
            out.append((exchange, state))
        return out

    def assert_requests_follow(self, state: str) -> list[Exchange]:
        """Wherever the session was in `state` (or a refinement: "CableCheck.Finished" covers
        "CableCheck.Finished.DC"), the DUT's next request is one the standard's sequence table allows there.
        Runs the session to its end first. Returns the checked exchanges (the requests after `state`)."""
        __tracebackhide__ = True
        self.run_to_end()
        steps = self.sequence()
        checked = []
        for position, (exchange, reached) in enumerate(steps):
            if reached != state and not reached.startswith(state + "."):
                continue
            following = self.exchanges()[position + 1:position + 2]
            if not following:
                self.fail(f"the DUT sent no request after {exchange.response.name} (state {reached})",
                          mark=exchange.response_index)
            nxt = following[0]
            allowed = self.table.allowed_after(reached)
            rule = self.table.lookup(reached).requirement
            self.check(nxt.pair in allowed, f"{nxt.request.name} after {reached}; the sequence allows "
                       f"{', '.join(sorted(a + 'Req' for a in allowed)) or 'nothing'} [{rule}]", mark=nxt.index)
            checked.append(nxt)
        if not checked:
            self.fail(f"the session never reached {state}")
        return checked
