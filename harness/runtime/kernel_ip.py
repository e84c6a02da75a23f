"""Real sockets for a node's `IpPort`: SDP over UDP and V2G over TCP on a named interface, via the kernel.

The node's addresses come from the interface itself — its link-local IPv6 address (with the interface index as
scope id for every link-local or multicast destination) and its MAC — never from configuration. The SDP server
socket binds UDP 15118 and joins ff02::1 on that interface; replies and client datagrams leave from the link-local
address. A TCP listener asked for port 0 picks a free port in the dynamic range 49152-65535 (the kernel's own
ephemeral range is usually lower, and ISO 15118-2 / Josev expect the dynamic range). Every socket is registered
with the runner's selector; readiness becomes `DatagramReceived` / `StreamOpened` / `StreamData` / `StreamClosed`.

Errors are typed and say what to do: `NoSuchInterface`, `NoLinkLocalAddress` (interface down, IPv6 disabled, or
duplicate address detection still running), `PortInUse`, `KernelIpError` for the rest.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import ipaddress
import os
import random
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.runtime.netns import inside
from harness.runtime.runner import Node, Runner
from stack import sansio as io
from stack.timers import SpecTimer

DYNAMIC_PORTS = (49152, 65535)
# Bounds for the few blocking calls (a link-local connect answers in well under a millisecond, or is refused).
TCP_CONNECT = SpecTimer("TCP connect (within V2G_EVCC_CommunicationSetup_Timeout)", 2.0,
                        "bounded inside the 20 s communication setup timer")
TCP_SEND = SpecTimer("TCP send (within V2G_EVCC_Msg_Timeout)", 2.0, "a V2G message must be out long before that")
IPV6_DAD = SpecTimer("IPv6 duplicate address detection", 5.0, "RFC 4862: DupAddrDetectTransmits × RetransTimer")
_IFA_F_TENTATIVE = 0x40
_IFA_F_DADFAILED = 0x08
_ACCEPTED_BASE = 1000
_SIOCGIFHWADDR = 0x8927


class KernelIpError(RuntimeError):
    """A socket operation on the interface failed; the message names the interface and the operation."""


class NoSuchInterface(KernelIpError):
    pass


class NoLinkLocalAddress(KernelIpError):
    pass


class PortInUse(KernelIpError):
    pass


# --------------------------------------------------------------------------- interface facts


def interface_index(iface: str) -> int:
    try:
        return socket.if_nametoindex(iface)
    except OSError:
        names = ", ".join(name for _, name in socket.if_nameindex())
        raise NoSuchInterface(f"interface {iface!r} does not exist (here: {names})") from None


def mac_address(iface: str) -> str:
    """The interface's MAC (SIOCGIFHWADDR, so it works in the current network namespace without a /sys remount)."""
    interface_index(iface)
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        try:
            raw = fcntl.ioctl(sock.fileno(), _SIOCGIFHWADDR, struct.pack("256s", iface.encode()[:15]))
        except OSError as exc:
            raise KernelIpError(f"cannot read the MAC address of {iface!r}: {exc.strerror}") from None
    return ":".join(f"{b:02x}" for b in raw[18:24])


def _link_locals(iface: str) -> list[tuple[str, int]]:
    """(address, flags) of the interface's link-local IPv6 addresses, from /proc/net/if_inet6."""
    out = []
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split()
        if len(parts) == 6 and parts[5] == iface and int(parts[3], 16) == 0x20:
            out.append((str(ipaddress.IPv6Address(bytes.fromhex(parts[0]))), int(parts[4], 16)))
    return out


def link_local_address(iface: str, wait: SpecTimer | None = IPV6_DAD) -> str:
    """The interface's usable link-local address; waits (bounded by `wait`) while DAD marks it tentative."""
    interface_index(iface)
    deadline = time.monotonic() + (wait.seconds if wait else 0.0)
    while True:
        addresses = _link_locals(iface)
        usable = [a for a, flags in addresses if not flags & (_IFA_F_TENTATIVE | _IFA_F_DADFAILED)]
        if usable:
            return usable[0]
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if addresses:
        raise NoLinkLocalAddress(f"{iface}: link-local address {addresses[0][0]} is still tentative after {wait} "
                                 "(duplicate address detection) or failed DAD")
    disabled = Path(f"/proc/sys/net/ipv6/conf/{iface}/disable_ipv6")
    hint = " (IPv6 is disabled on it)" if disabled.exists() and disabled.read_text().strip() == "1" else \
        " (is it up?)"
    raise NoLinkLocalAddress(f"{iface} has no IPv6 link-local address{hint}")


def _scoped(address: str, scope: int) -> int:
    ip = ipaddress.IPv6Address(address.split("%")[0])
    return scope if (ip.is_link_local or ip.is_multicast) else 0


# --------------------------------------------------------------------------- the port


@dataclass
class _Conn:
    sock: socket.socket
    peer: tuple[str, int]
    local: tuple[str, int]


@dataclass
class KernelIpPort:
    """`IpPort` on a real interface for one node (see module docstring). Call `close()` when done."""

    runner: Runner
    node: Node
    iface: str
    scope: int = 0
    ipv6: str = ""
    _udp: dict[int, socket.socket] = field(default_factory=dict)
    _client_udp: socket.socket | None = None
    _listeners: dict[int, socket.socket] = field(default_factory=dict)
    _conns: dict[int, _Conn] = field(default_factory=dict)
    _next_accepted: int = _ACCEPTED_BASE
    netns: str | None = None  # open every socket in this network namespace (tests, benchmarks)

    @classmethod
    def attach(cls, runner: Runner, node: Node, iface: str, netns: str | None = None) -> KernelIpPort:
        with inside(netns):
            port = cls(runner, node, iface, interface_index(iface), link_local_address(iface), netns=netns)
        node.ip = port
        return port

    @classmethod
    def make_node(cls, runner: Runner, name: str, endpoint: Any, iface: str, role: str = "tester",
                  netns: str | None = None) -> tuple[Node, KernelIpPort]:
        """A runner node whose MAC and IPv6 address are the interface's own, with its IP port attached."""
        with inside(netns):
            mac, ipv6 = mac_address(iface), link_local_address(iface)
        node = runner.add(Node(name, endpoint, mac, ipv6, role=role))
        return node, cls.attach(runner, node, iface, netns)

    def _socket(self, kind: int) -> socket.socket:
        with inside(self.netns):
            return socket.socket(socket.AF_INET6, kind)

    # ------------------------------------------------------------------ helpers

    def _addr(self, host: str, port: int) -> tuple[str, int, int, int]:
        host = host.split("%")[0]
        return (host, port, 0, _scoped(host, self.scope))

    def _bind_device(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError, AttributeError):  # needs CAP_NET_RAW; the scope id suffices otherwise
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.iface.encode())

    def _error(self, what: str, exc: OSError) -> KernelIpError:
        if exc.errno == errno.EADDRINUSE:
            return PortInUse(f"{self.iface}: {what}: address already in use")
        if exc.errno in (errno.EACCES, errno.EPERM):
            return KernelIpError(f"{self.iface}: {what}: permission denied ({exc.strerror})")
        if exc.errno == errno.EADDRNOTAVAIL:
            return NoLinkLocalAddress(f"{self.iface}: {what}: address {self.ipv6} not available ({exc.strerror})")
        return KernelIpError(f"{self.iface}: {what}: {exc.strerror or exc}")

    # ------------------------------------------------------------------ UDP

    def bind_udp(self, port: int, multicast: str | None) -> None:
        sock = self._socket(socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
            self._bind_device(sock)
            sock.bind(("::", port, 0, 0) if multicast else self._addr(self.ipv6, port))
            if multicast:
                group = socket.inet_pton(socket.AF_INET6, multicast) + struct.pack("@I", self.scope)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, group)
        except OSError as exc:
            sock.close()
            raise self._error(f"bind UDP port {port}" + (f" and join {multicast}" if multicast else ""), exc) from None
        sock.setblocking(False)
        self._udp[port] = sock
        self.runner.register_reader(sock, lambda: self._read_udp(sock))

    def _client(self) -> socket.socket:
        if self._client_udp is None:
            sock = self._socket(socket.SOCK_DGRAM)
            try:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.scope)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
                sock.bind(self._addr(self.ipv6, 0))
            except OSError as exc:
                sock.close()
                raise self._error("bind a UDP client socket", exc) from None
            sock.setblocking(False)
            self._client_udp = sock
            self.runner.register_reader(sock, lambda: self._read_udp(sock))
        return self._client_udp

    def send_datagram(self, out: io.SendDatagram, now: float) -> None:
        sock = self._client() if out.src_port is None else self._udp.get(out.src_port)
        if sock is None:
            self.bind_udp(out.src_port, None)  # type: ignore[arg-type]
            sock = self._udp[out.src_port]  # type: ignore[index]
        if ipaddress.IPv6Address(out.dst[0].split("%")[0]).is_multicast:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.scope)
        try:
            sock.sendto(out.data, self._addr(*out.dst))
        except OSError as exc:
            raise self._error(f"send a datagram to [{out.dst[0]}]:{out.dst[1]}", exc) from None

    def _read_udp(self, sock: socket.socket) -> None:
        try:
            data, ancillary, _, source = sock.recvmsg(65535, socket.CMSG_SPACE(20))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        local = sock.getsockname()
        destination = local[0]
        for level, kind, payload in ancillary:
            if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO and len(payload) >= 16:
                destination = str(ipaddress.IPv6Address(payload[:16]))
        if destination in ("::", ""):
            destination = self.ipv6
        event = io.DatagramReceived(data, (source[0].split("%")[0], source[1]), (destination, local[1]))
        self.runner.deliver(self.node, event)

    # ------------------------------------------------------------------ TCP

    def listen(self, port: int, now: float) -> None:
        candidates = [port] if port else random.sample(range(DYNAMIC_PORTS[0], DYNAMIC_PORTS[1] + 1), 64)
        for candidate in candidates:
            sock = self._socket(socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._bind_device(sock)
            try:
                sock.bind(self._addr(self.ipv6, candidate))
                sock.listen(4)
                break
            except OSError as exc:
                sock.close()
                if exc.errno != errno.EADDRINUSE or port:
                    raise self._error(f"listen on TCP port {candidate}", exc) from None
        else:
            raise PortInUse(f"{self.iface}: no free TCP port in {DYNAMIC_PORTS[0]}-{DYNAMIC_PORTS[1]} after "
                            f"{len(candidates)} tries")
        sock.setblocking(False)
        bound = sock.getsockname()[1]
        self._listeners[bound] = sock
        self.runner.register_reader(sock, lambda: self._accept(sock))
        self.runner.deliver(self.node, io.Listening(bound))

    def stop_listening(self, port: int) -> None:
        sock = self._listeners.pop(port, None)
        if sock is not None:
            self.runner.unregister_reader(sock)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        try:
            sock, peer = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        conn = self._next_accepted
        self._next_accepted += 1
        self._adopt(conn, sock, (peer[0].split("%")[0], peer[1]))

    def _adopt(self, conn: int, sock: socket.socket, peer: tuple[str, int]) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(TCP_SEND.seconds)
        local = sock.getsockname()
        record = _Conn(sock, peer, (local[0].split("%")[0], local[1]))
        self._conns[conn] = record
        self.runner.register_reader(sock, lambda: self._read_tcp(conn))
        self.runner.deliver(self.node, io.StreamOpened(conn, record.peer, record.local))

    def open_stream(self, conn: int, dst: tuple[str, int], now: float) -> None:
        sock = self._socket(socket.SOCK_STREAM)
        self._bind_device(sock)
        sock.settimeout(TCP_CONNECT.seconds)
        try:
            sock.bind(self._addr(self.ipv6, 0))
            sock.connect(self._addr(*dst))
        except OSError as exc:
            sock.close()
            why = "connection refused" if exc.errno == errno.ECONNREFUSED else (
                f"no answer within {TCP_CONNECT}" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc)))
            self.runner.deliver(self.node, io.StreamClosed(conn, error=why))
            return
        self._adopt(conn, sock, (dst[0].split("%")[0], dst[1]))

    def send_stream(self, conn: int, data: bytes, now: float) -> None:
        record = self._conns.get(conn)
        if record is None:
            self.runner.deliver(self.node, io.StreamClosed(conn, error="send on a closed connection"))
            return
        try:
            record.sock.sendall(data)
        except OSError as exc:
            self._drop(conn, f"send failed: {exc.strerror or exc}")

    def close_stream(self, conn: int, now: float) -> None:
        record = self._conns.pop(conn, None)
        if record is None:
            return
        self.runner.unregister_reader(record.sock)
        with contextlib.suppress(OSError):
            record.sock.shutdown(socket.SHUT_RDWR)
        record.sock.close()
        self.runner.deliver(self.node, io.StreamClosed(conn))

    def _read_tcp(self, conn: int) -> None:
        record = self._conns.get(conn)
        if record is None:
            return
        try:
            data = record.sock.recv(65536)
        except (BlockingIOError, InterruptedError, TimeoutError):
            return
        except OSError as exc:
            self._drop(conn, exc.strerror or str(exc))
            return
        if data:
            self.runner.deliver(self.node, io.StreamData(conn, data))
        else:
            self._drop(conn, None)

    def _drop(self, conn: int, error: str | None) -> None:
        record = self._conns.pop(conn, None)
        if record is None:
            return
        self.runner.unregister_reader(record.sock)
        record.sock.close()
        self.runner.deliver(self.node, io.StreamClosed(conn, error=error))

    # ------------------------------------------------------------------ teardown

    def close(self) -> None:
        for sock in [*self._udp.values(), *self._listeners.values(), *(c.sock for c in self._conns.values()),
                     *([self._client_udp] if self._client_udp else [])]:
            self.runner.unregister_reader(sock)
            with contextlib.suppress(OSError):
                sock.close()
        self._udp.clear()
        self._listeners.clear()
        self._conns.clear()
        self._client_udp = None


def running_as_root() -> bool:
    return os.geteuid() == 0
