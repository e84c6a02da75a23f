"""The runner on the virtual clock: ordering, latency, deadlines, bounded waits, recording."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from harness.clock import VirtualClock
from harness.runtime import InprocHub, InprocIpFabric, Node, Runner, RunnerError
from stack import sansio as io
from stack.timers import SpecTimer

T1 = SpecTimer("T_test", 1.0)


@dataclass
class EchoServer:
    """Listens on TCP 6000 and UDP 15118, echoes everything back."""

    log: list = field(default_factory=list)

    def handle(self, event, now):
        self.log.append((now, event))
        if isinstance(event, io.Start):
            return [io.Listen(6000), io.BindUdp(15118, "ff02::1")]
        if isinstance(event, io.StreamData):
            return [io.SendStream(event.data, event.conn)]
        if isinstance(event, io.DatagramReceived):
            return [io.SendDatagram(b"pong", event.src, src_port=15118)]
        return []

    def next_deadline(self):
        return None


@dataclass
class Client:
    log: list = field(default_factory=list)
    deadline: float | None = None

    def handle(self, event, now):
        self.log.append((now, event))
        if isinstance(event, io.Start):
            self.deadline = now + 0.1
            return [io.SendDatagram(b"ping", ("ff02::1", 15118))]
        if isinstance(event, io.Tick):
            self.deadline = None
            return [io.OpenStream(1, ("fe80::2", 6000))]
        if isinstance(event, io.StreamOpened):
            return [io.SendStream(b"\x01\xfe\x80\x01\x00\x00\x00\x02ab", 1)]
        if isinstance(event, io.StreamData):
            return [io.CloseStream(1), io.Notify("state", "done")]
        return []

    def next_deadline(self):
        return self.deadline


def make(latency=0.001, dut=True):
    runner = Runner(VirtualClock())
    hub, fabric = InprocHub(runner, latency), InprocIpFabric(runner, latency)
    client = runner.add(Node("pev", Client(), "02:00:00:00:00:01", "fe80::1"))
    server = runner.add(Node("evse", EchoServer(), "02:00:00:00:00:02", "fe80::2", role="dut" if dut else "tester"))
    for node in (client, server):
        hub.attach(node)
        fabric.attach(node)
    return runner, client.endpoint, server.endpoint


def test_exchange_runs_in_virtual_time_with_exact_latencies():
    runner, client, server = make()
    result = runner.run(lambda: runner.timeline.first("done") is not None, T1)
    assert result.reached
    times = {type(e).__name__: t for t, e in client.log}
    assert times["DatagramReceived"] == pytest.approx(0.002)  # ping + pong, 1 ms each way
    assert times["StreamOpened"] == pytest.approx(0.102)  # deadline at 0.1, then SYN + SYN-ACK
    assert times["StreamData"] == pytest.approx(0.104)


def test_timeline_directions_and_layers():
    runner, _, _ = make()
    runner.run(lambda: runner.timeline.first("done") is not None, T1)
    layers = [(r.layer, r.name, r.dir) for r in runner.timeline.events()]
    assert ("sdp", "?", "to_dut") in layers
    assert ("sdp", "?", "from_dut") in layers
    assert ("exi", "?", "to_dut") in layers  # b"ab" is no EXI: an exi record with an error
    assert ("exi", "?", "from_dut") in layers
    assert ("state", "done", None) in layers


def test_run_is_bounded_by_the_spec_timer_and_reports_idle():
    runner, _, _ = make()
    runner.run(lambda: runner.timeline.first("done") is not None, T1)
    result = runner.run(lambda: False, SpecTimer("T_wait", 5.0))
    assert not result and result.idle
    assert runner.clock.now() == pytest.approx(0.104 + 5.0)


def test_without_dut_nothing_is_recorded_twice():
    runner, _, _ = make(dut=False)
    runner.run(lambda: runner.timeline.first("done") is not None, T1)
    v2g = runner.timeline.select(layer="exi")
    assert len(v2g) == 2 and all(r.dir is None for r in v2g)


def test_refused_connection_is_reported_to_the_opener():
    runner = Runner(VirtualClock())
    fabric = InprocIpFabric(runner)
    client = runner.add(Node("pev", Client(), "02:00:00:00:00:01", "fe80::1"))
    fabric.attach(client)
    runner.run(None, T1)
    closed = [e for _, e in client.endpoint.log if isinstance(e, io.StreamClosed)]
    assert closed and closed[0].error == "connection refused"


def test_missing_port_is_a_clear_error():
    runner = Runner(VirtualClock())
    runner.add(Node("pev", Client(), "02:00:00:00:00:01", "fe80::1"))
    with pytest.raises(RunnerError, match="pev asked for SendDatagram but the rig gives it no ip port"):
        runner.run(None, T1)


class Spinner:
    def handle(self, event, now):
        return []

    def next_deadline(self):
        return 0.0  # always due, never progresses


def test_livelock_is_detected():
    runner = Runner(VirtualClock())
    runner.add(Node("x", Spinner(), "02:00:00:00:00:01", "fe80::1"))
    with pytest.raises(RunnerError, match="livelock"):
        runner.run(None, T1)
