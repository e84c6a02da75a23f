"""In-process ports for the `sim` rig: an Ethernet hub for the PLC side and an IPv6 fabric for UDP and TCP.

They schedule deliveries on the runner with a fixed one-way latency, so on the virtual clock every exchange has
a definite, repeatable duration. The HomePlug modem emulator is another `L2Medium` with the same shape: it
replaces `InprocHub` when SLAC is part of the run, and then also decides which nodes can reach each other over
IP (only nodes whose modems hold the same NMK).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from harness.runtime.runner import L2Port, Node, Runner, RunnerError
from stack import sansio as io

BROADCAST = "ff:ff:ff:ff:ff:ff"
DEFAULT_LATENCY = 0.0005  # s, one way; a HomePlug GP hop is in this order


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


class L2Medium(Protocol):
    """What carries frames between nodes in process: `InprocHub`, or the HomePlug modem emulator."""

    def attach(self, node: Node) -> L2Port: ...

    def reachable(self, a: Node, b: Node) -> bool:
        """Whether IP traffic can flow between two nodes (the emulator: same NMK after SLAC)."""
        ...


class InprocHub:
    """A plain Ethernet hub: a frame reaches every other attached node whose MAC matches (or broadcast)."""

    def __init__(self, runner: Runner, latency: float = DEFAULT_LATENCY) -> None:
        self.runner, self.latency = runner, latency
        self.nodes: list[Node] = []

    def attach(self, node: Node) -> _HubPort:
        self.nodes.append(node)
        node.l2 = _HubPort(self, node)
        return node.l2

    def reachable(self, a: Node, b: Node) -> bool:
        return True

    def _send(self, sender: Node, frame: bytes, now: float) -> None:
        dst = _mac(frame[0:6]) if len(frame) >= 6 else BROADCAST
        for node in self.nodes:
            if node is not sender and (dst == BROADCAST or dst == node.mac.lower() or frame[0] & 1):
                self.runner.deliver(node, io.FrameReceived(frame), at=now + self.latency, source=sender.name)


@dataclass
class _HubPort:
    hub: InprocHub
    node: Node

    def send(self, frame: bytes, now: float) -> None:
        self.hub._send(self.node, frame, now)

    def local_modems(self) -> set[str]:
        return set()


@dataclass
class _Connection:
    client: Node
    client_conn: int
    server: Node
    server_conn: int
    client_addr: tuple[str, int]
    server_addr: tuple[str, int]
    last_delivery: dict[str, float] = field(default_factory=dict)
    open: bool = True

    def peer_of(self, node: Node) -> tuple[Node, int]:
        return (self.server, self.server_conn) if node is self.client else (self.client, self.client_conn)


class InprocIpFabric:
    """IPv6 between in-process nodes: UDP (unicast and ff02::1) and TCP as ordered byte pipes.

    TCP here keeps order and never loses bytes (as TCP does); delay and loss are fault injection's job. A
    connection to a port nobody listens on is refused, as the kernel would do.
    """

    def __init__(self, runner: Runner, latency: float = DEFAULT_LATENCY, medium: L2Medium | None = None) -> None:
        self.runner, self.latency, self.medium = runner, latency, medium
        self.nodes: list[Node] = []
        self._udp: dict[tuple[str, int], Node] = {}  # (node name, port) -> node
        self._udp_multicast: dict[tuple[str, int], str] = {}
        self._listeners: dict[tuple[str, int], Node] = {}  # (ipv6, port) -> node
        self._conns: dict[tuple[str, int], _Connection] = {}  # (node name, conn) -> connection
        self._next_port = 49152
        self._next_server_conn = 1000
        self._ephemeral: dict[str, int] = {}

    def attach(self, node: Node) -> _IpPort:
        self.nodes.append(node)
        node.ip = _IpPort(self, node)
        return node.ip

    # ---------------------------------------------------------------- helpers

    def _reachable(self, a: Node, b: Node) -> bool:
        return self.medium is None or self.medium.reachable(a, b)

    def _pick_port(self) -> int:
        port = self._next_port
        self._next_port += 1
        return port

    # ---------------------------------------------------------------- UDP

    def bind_udp(self, node: Node, port: int, multicast: str | None) -> None:
        self._udp[(node.name, port)] = node
        if multicast:
            self._udp_multicast[(node.name, port)] = multicast

    def send_datagram(self, node: Node, out: io.SendDatagram, now: float) -> None:
        src_port = out.src_port or self._ephemeral.setdefault(node.name, self._pick_port())
        self._udp.setdefault((node.name, src_port), node)
        # Receivers are resolved when the datagram arrives, as on a real link: a socket bound meanwhile gets it.
        self.runner.call_at(now + self.latency, lambda: self._arrive_datagram(node, out, src_port))

    def _arrive_datagram(self, node: Node, out: io.SendDatagram, src_port: int) -> None:
        dst_ip, dst_port = out.dst
        for (name, port), target in list(self._udp.items()):
            if target is node or port != dst_port or not self._reachable(node, target):
                continue
            joined = self._udp_multicast.get((name, port))
            if dst_ip == target.ipv6 or (dst_ip.startswith("ff") and (joined == dst_ip or dst_ip == "ff02::1")):
                event = io.DatagramReceived(out.data, (node.ipv6, src_port), (dst_ip, dst_port))
                self.runner.deliver(target, event, source=node.name)

    # ---------------------------------------------------------------- TCP

    def listen(self, node: Node, port: int, now: float) -> None:
        if port == 0:
            port = self._pick_port()
        if (node.ipv6, port) in self._listeners:
            raise RunnerError(f"{node.name}: port {port} is already listening")
        self._listeners[(node.ipv6, port)] = node
        self.runner.deliver(node, io.Listening(port), at=now)

    def stop_listening(self, node: Node, port: int) -> None:
        self._listeners.pop((node.ipv6, port), None)

    def open_stream(self, node: Node, conn: int, dst: tuple[str, int], now: float) -> None:
        self.runner.call_at(now + self.latency, lambda: self._arrive_syn(node, conn, dst))

    def _arrive_syn(self, node: Node, conn: int, dst: tuple[str, int]) -> None:
        now = self.runner.clock.now()
        server = self._listeners.get((dst[0], dst[1]))
        if server is None or not self._reachable(node, server):
            why = "connection refused" if server is None else "no route (link not established)"
            self.runner.deliver(node, io.StreamClosed(conn, error=why), at=now + self.latency)
            return
        server_conn = self._next_server_conn
        self._next_server_conn += 1
        client_addr = (node.ipv6, self._pick_port())
        connection = _Connection(node, conn, server, server_conn, client_addr, (dst[0], dst[1]))
        self._conns[(node.name, conn)] = connection
        self._conns[(server.name, server_conn)] = connection
        # The SYN has reached the server; the SYN-ACK reaches the client one latency later.
        self.runner.deliver(server, io.StreamOpened(server_conn, client_addr, connection.server_addr),
                            source=node.name)
        self.runner.deliver(node, io.StreamOpened(conn, connection.server_addr, client_addr),
                            at=now + self.latency, source=server.name)

    def send_stream(self, node: Node, conn: int, data: bytes, now: float) -> None:
        connection = self._conns.get((node.name, conn))
        if connection is None or not connection.open:
            self.runner.deliver(node, io.StreamClosed(conn, error="send on a closed connection"), at=now)
            return
        peer, peer_conn = connection.peer_of(node)
        at = max(now + self.latency, connection.last_delivery.get(peer.name, 0.0))
        connection.last_delivery[peer.name] = at
        self.runner.deliver(peer, io.StreamData(peer_conn, data), at=at, source=node.name)

    def close_stream(self, node: Node, conn: int, now: float) -> None:
        connection = self._conns.pop((node.name, conn), None)
        if connection is None or not connection.open:
            return
        connection.open = False
        peer, peer_conn = connection.peer_of(node)
        self._conns.pop((peer.name, peer_conn), None)
        at = max(now + self.latency, connection.last_delivery.get(peer.name, 0.0))
        self.runner.deliver(peer, io.StreamClosed(peer_conn), at=at, source=node.name)
        self.runner.deliver(node, io.StreamClosed(conn), at=now)


@dataclass
class _IpPort:
    fabric: InprocIpFabric
    node: Node

    def bind_udp(self, port: int, multicast: str | None) -> None:
        self.fabric.bind_udp(self.node, port, multicast)

    def send_datagram(self, out: io.SendDatagram, now: float) -> None:
        self.fabric.send_datagram(self.node, out, now)

    def listen(self, port: int, now: float) -> None:
        self.fabric.listen(self.node, port, now)

    def stop_listening(self, port: int) -> None:
        self.fabric.stop_listening(self.node, port)

    def open_stream(self, conn: int, dst: tuple[str, int], now: float) -> None:
        self.fabric.open_stream(self.node, conn, dst, now)

    def send_stream(self, conn: int, data: bytes, now: float) -> None:
        self.fabric.send_stream(self.node, conn, data, now)

    def close_stream(self, conn: int, now: float) -> None:
        self.fabric.close_stream(self.node, conn, now)
