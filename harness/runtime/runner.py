"""The runner: drives sans-IO endpoints against ports, on the rig's clock, and writes the timeline.

One single-threaded loop serves every rig. Work is a heap of timed callbacks (deliveries from in-process ports,
scheduled CP reactions) plus each endpoint's `next_deadline()`. On a `VirtualClock` the loop jumps straight to the
next due item (nothing ever sleeps); on a `MonotonicClock` it waits for the due time in `selectors`, serving
socket readiness (raw L2, UDP, TCP ports register their file descriptors) as it comes.

Every wait is bounded: `run(until, limit)` takes a `SpecTimer` and returns when `until()` holds, when the timer
runs out, or — on the virtual clock — when nothing is left to happen (`RunResult.idle`).

Recording: the timeline is the harness's view. Frames, datagrams and V2G messages sent by a non-DUT node are
recorded (dir `to_dut` when a DUT is present); things received by a non-DUT node from anyone who is not another
non-DUT node are recorded (dir `from_dut`, or none for the node's own modem). Endpoint `Notify` outputs become
`state` records (those of the DUT, when it is our own stack on the sim rig, carry `party: "dut"`).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import selectors
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.clock import Clock, VirtualClock
from harness.describe import StreamDescriber, describe_datagram, describe_frame
from harness.records import Record, Timeline
from stack import sansio as io
from stack.timers import SpecTimer

# Guards against an endpoint that keeps asking for a deadline that is already due without making progress.
_MAX_STEPS_AT_ONE_INSTANT = 100_000


class RunnerError(RuntimeError):
    """The runner cannot do what an endpoint asked (no port for it, livelock, I/O failure)."""


class L2Port(Protocol):
    """Where a node's Ethernet frames go: an in-process medium, the modem emulator, or a raw socket."""

    def send(self, frame: bytes, now: float) -> None: ...

    def local_modems(self) -> set[str]: ...


class IpPort(Protocol):
    """UDP and TCP for one node: the in-process fabric or the kernel's sockets on an interface."""

    def bind_udp(self, port: int, multicast: str | None) -> None: ...

    def send_datagram(self, out: io.SendDatagram, now: float) -> None: ...

    def listen(self, port: int, now: float) -> None: ...

    def stop_listening(self, port: int) -> None: ...

    def open_stream(self, conn: int, dst: tuple[str, int], now: float) -> None: ...

    def send_stream(self, conn: int, data: bytes, now: float) -> None: ...

    def close_stream(self, conn: int, now: float) -> None: ...


class CpPort(Protocol):
    """The control pilot as one side sees it: the EVSE drives the oscillator, the PEV switches its load."""

    def apply(self, out: io.SetCpOscillator | io.SetCpLoad, now: float) -> None: ...


@dataclass
class Node:
    """One party in a run: our EVSE or PEV stack (tester), or our stack in the DUT seat (sim rig only)."""

    name: str
    endpoint: io.Endpoint
    mac: str
    ipv6: str
    role: str = "tester"  # "tester" | "dut"
    l2: L2Port | None = None
    ip: IpPort | None = None
    cp: CpPort | None = None
    describers: dict[int, StreamDescriber] = field(default_factory=dict)
    started: bool = False

    @property
    def observed(self) -> bool:
        return self.role != "dut"


@dataclass(frozen=True)
class RunResult:
    reached: bool  # `until()` became true
    idle: bool  # virtual clock only: nothing was left to happen
    elapsed: float
    limit: SpecTimer

    def __bool__(self) -> bool:
        return self.reached


class Runner:
    def __init__(self, clock: Clock, timeline: Timeline | None = None, *, external_dut: bool = False) -> None:
        self.clock = clock
        self.timeline = timeline if timeline is not None else Timeline(clock.kind, clock.epoch)
        self.nodes: dict[str, Node] = {}
        self.external_dut = external_dut
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._selector: selectors.BaseSelector | None = None
        self._observer_addresses: set[str] = set()

    # ------------------------------------------------------------------ setup

    @property
    def virtual(self) -> bool:
        return isinstance(self.clock, VirtualClock)

    @property
    def dut_present(self) -> bool:
        return self.external_dut or any(n.role == "dut" for n in self.nodes.values())

    def add(self, node: Node) -> Node:
        if node.name in self.nodes:
            raise RunnerError(f"two nodes named {node.name!r}")
        self.nodes[node.name] = node
        if node.observed:
            self._observer_addresses.update({node.mac.lower(), node.ipv6})
        return node

    def register_reader(self, fileobj: Any, callback: Callable[[], None]) -> None:
        """Real ports: call `callback` whenever `fileobj` is readable (only on a monotonic clock)."""
        if self.virtual:
            raise RunnerError("a socket port cannot run on the virtual clock (use in-process ports on the sim rig)")
        if self._selector is None:
            self._selector = selectors.DefaultSelector()
        self._selector.register(fileobj, selectors.EVENT_READ, callback)

    def unregister_reader(self, fileobj: Any) -> None:
        if self._selector is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(fileobj)

    def call_at(self, t: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (t, next(self._seq), callback))

    def call_soon(self, callback: Callable[[], None]) -> None:
        self.call_at(self.clock.now(), callback)

    def deliver(self, node: Node | str, event: io.Input, at: float | None = None, source: str | None = None) -> None:
        """Schedule an input for a node (ports call this); it is recorded when handed over."""
        target = self.nodes[node] if isinstance(node, str) else node
        when = self.clock.now() if at is None else at
        self.call_at(when, lambda: self._feed(target, event, source))

    def start(self) -> None:
        """Give every node its `Start` input (idempotent)."""
        for node in self.nodes.values():
            if not node.started:
                node.started = True
                self._feed(node, io.Start(mac=node.mac, ipv6=node.ipv6), None)

    def command(self, node: str, name: str, **args: Any) -> None:
        self.deliver(node, io.Command(name, args))

    # ------------------------------------------------------------------ loop

    def run(self, until: Callable[[], bool] | None, limit: SpecTimer) -> RunResult:
        """Serve events until `until()` is true or `limit` has passed. `until=None` runs for the whole limit."""
        self.start()
        began = self.clock.now()
        end = began + limit.seconds
        steps_at_instant, last_instant = 0, began
        while True:
            if until is not None and until():
                return RunResult(True, False, self.clock.now() - began, limit)
            due = self._next_due()
            now = self.clock.now()
            if due is None or due > end:
                if self.virtual:
                    idle = due is None
                    self.clock.advance_to(end)  # type: ignore[attr-defined]
                    return RunResult(False, idle, self.clock.now() - began, limit)
                if now >= end:
                    return RunResult(False, False, now - began, limit)
                self._wait(end - now)
                continue
            if due > now:
                if self.virtual:
                    self.clock.advance_to(due)  # type: ignore[attr-defined]
                else:
                    self._wait(due - now)
                    continue
            now = self.clock.now()
            if now == last_instant:
                steps_at_instant += 1
                if steps_at_instant > _MAX_STEPS_AT_ONE_INSTANT:
                    raise RunnerError(f"livelock: {steps_at_instant} steps at t={now:.6f} without time passing")
            else:
                steps_at_instant, last_instant = 0, now
            self._step(now)

    def _next_due(self) -> float | None:
        candidates = [self._heap[0][0]] if self._heap else []
        for node in self.nodes.values():
            deadline = node.endpoint.next_deadline()
            if deadline is not None:
                candidates.append(deadline)
        return min(candidates) if candidates else None

    def _step(self, now: float) -> None:
        if self._heap and self._heap[0][0] <= now:
            _, _, callback = heapq.heappop(self._heap)
            callback()
            return
        for node in self.nodes.values():
            deadline = node.endpoint.next_deadline()
            if deadline is not None and deadline <= now:
                self._feed(node, io.Tick(), None)
                return

    def _wait(self, seconds: float) -> None:
        if self._selector is None or not self._selector.get_map():
            import time

            time.sleep(max(0.0, seconds))
            return
        for key, _ in self._selector.select(timeout=max(0.0, seconds)):
            key.data()

    # ------------------------------------------------------------------ endpoint boundary

    def _feed(self, node: Node, event: io.Input, source: str | None) -> None:
        now = self.clock.now()
        self._record_input(node, event, source, now)
        outputs = node.endpoint.handle(event, now)
        for out in outputs:
            self._dispatch(node, out, now)

    def _dispatch(self, node: Node, out: io.Output, now: float) -> None:
        if isinstance(out, io.Notify):
            extra = {} if node.observed else {"party": "dut"}
            self.timeline.add(Record(t=now, layer=out.layer, name=out.name, src=node.name, body=out.data or None,
                                     extra=extra))
            return
        self._record_output(node, out, now)
        if isinstance(out, io.SendFrame):
            self._port(node, "l2", out).send(out.frame, now)
        elif isinstance(out, io.SendDatagram):
            self._port(node, "ip", out).send_datagram(out, now)
        elif isinstance(out, io.BindUdp):
            self._port(node, "ip", out).bind_udp(out.port, out.multicast)
        elif isinstance(out, io.Listen):
            self._port(node, "ip", out).listen(out.port, now)
        elif isinstance(out, io.StopListening):
            self._port(node, "ip", out).stop_listening(out.port)
        elif isinstance(out, io.OpenStream):
            self._port(node, "ip", out).open_stream(out.conn, out.dst, now)
        elif isinstance(out, io.SendStream):
            self._port(node, "ip", out).send_stream(out.conn, out.data, now)
        elif isinstance(out, io.CloseStream):
            self._port(node, "ip", out).close_stream(out.conn, now)
        elif isinstance(out, (io.SetCpOscillator, io.SetCpLoad)):
            self._port(node, "cp", out).apply(out, now)
        else:
            raise RunnerError(f"{node.name}: unknown output {out!r}")

    def _port(self, node: Node, kind: str, out: object) -> Any:
        port = getattr(node, kind)
        if port is None:
            raise RunnerError(f"{node.name} asked for {type(out).__name__} but the rig gives it no {kind} port")
        return port

    # ------------------------------------------------------------------ recording

    def _dir(self, sending_node: Node | None) -> str | None:
        if not self.dut_present:
            return None
        if sending_node is not None:
            return "to_dut" if sending_node.observed else "from_dut"
        return "from_dut"

    def _add(self, now: float, fields: dict[str, Any], direction: str | None) -> None:
        extra = {k: v for k, v in fields.items() if k not in _RECORD_KEYS}
        kwargs = {k: v for k, v in fields.items() if k in _RECORD_KEYS}
        self.timeline.add(Record(t=now, dir=direction, extra=extra, **kwargs))

    def _record_output(self, node: Node, out: io.Output, now: float) -> None:
        if not node.observed:
            return
        if isinstance(out, io.SendFrame):
            fields = describe_frame(out.frame)
            modems = node.l2.local_modems() if node.l2 is not None else set()
            direction = None if fields.get("dst") in modems else self._dir(node)
            self._add(now, fields, direction)
        elif isinstance(out, io.SendDatagram):
            self._add(now, describe_datagram(out.data, (node.ipv6, out.src_port or 0), out.dst), self._dir(node))
        elif isinstance(out, io.SendStream):
            describer = node.describers.setdefault(out.conn, StreamDescriber())
            for fields in describer.feed(out.data, outgoing=True):
                self._add(now, {"src": node.ipv6, **fields}, self._dir(node))
        elif isinstance(out, io.OpenStream):
            self._add(now, {"layer": "tcp", "name": "connect", "src": node.ipv6, "dst": f"[{out.dst[0]}]:{out.dst[1]}",
                            "conn": out.conn}, None)
        elif isinstance(out, io.CloseStream):
            self._add(now, {"layer": "tcp", "name": "close", "src": node.ipv6, "conn": out.conn}, None)
        elif isinstance(out, io.SetCpOscillator):
            self._add(now, {"layer": "cp", "name": "oscillator", "src": node.name,
                            "body": {"duty": out.duty, "state": out.state}}, None)
        elif isinstance(out, io.SetCpLoad):
            self._add(now, {"layer": "cp", "name": "load", "src": node.name, "body": {"state": out.state}}, None)

    def _record_input(self, node: Node, event: io.Input, source: str | None, now: float) -> None:
        if not node.observed:
            return
        if source is not None and source in self.nodes and self.nodes[source].observed:
            return  # already recorded when the other observed node sent it
        sender = self.nodes.get(source) if source else None
        if isinstance(event, io.FrameReceived):
            fields = describe_frame(event.frame)
            modems = node.l2.local_modems() if node.l2 is not None else set()
            direction = None if fields.get("src") in modems else self._dir(sender)
            self._add(now, fields, direction)
        elif isinstance(event, io.DatagramReceived):
            self._add(now, describe_datagram(event.data, event.src, event.dst), self._dir(sender))
        elif isinstance(event, io.StreamData):
            describer = node.describers.setdefault(event.conn, StreamDescriber())
            for fields in describer.feed(event.data, outgoing=False):
                self._add(now, {"dst": node.ipv6, **fields}, self._dir(sender))
        elif isinstance(event, io.StreamOpened):
            self._add(now, {"layer": "tcp", "name": "open", "src": f"[{event.peer[0]}]:{event.peer[1]}",
                            "dst": f"[{event.local[0]}]:{event.local[1]}", "conn": event.conn}, None)
        elif isinstance(event, io.StreamClosed):
            node.describers.pop(event.conn, None)
            self._add(now, {"layer": "tcp", "name": "closed", "dst": node.ipv6, "conn": event.conn,
                            "error": event.error}, None)
        elif isinstance(event, io.CpObserved):
            self._add(now, {"layer": "cp", "name": f"state {event.state}", "dst": node.name,
                            "body": {"state": event.state, "duty": event.duty, "volts": event.volts}}, None)


_RECORD_KEYS = {"layer", "name", "src", "dst", "mmtype", "schema", "body", "error", "raw"}
