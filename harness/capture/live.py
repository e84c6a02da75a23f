"""Live capture on a network interface: every frame of every ethertype, with the kernel's receive timestamp.

Linux AF_PACKET raw socket (`ETH_P_ALL`), bound to one interface, promiscuous while open (as tcpdump), frames the
host sends included (they are part of the session). Timestamps come from the kernel (`SO_TIMESTAMPNS`), not from
when Python got round to reading the frame. Every wait is bounded: `read(timeout)` returns what arrived within
`timeout` seconds, possibly nothing. Errors are the typed ones of `harness.runtime.raw_l2` (no privilege, no such
interface), naming the interface.
"""

from __future__ import annotations

import errno
import select
import socket
import struct
import time
from pathlib import Path

from harness.runtime.raw_l2 import InterfaceNotFound, L2PortError, PrivilegeError

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_SNAPLEN = 65535


def interface_mac(iface: str) -> str | None:
    try:
        return Path(f"/sys/class/net/{iface}/address").read_text().strip().lower()
    except OSError:
        return None


class LiveCapture:
    """Frames from `iface` as (capture time, bytes); `send` puts a frame on it (the sniffer-mode requests)."""

    def __init__(self, iface: str, promiscuous: bool = True) -> None:
        if not hasattr(socket, "AF_PACKET"):
            raise L2PortError(iface, "live capture needs Linux (AF_PACKET raw sockets)")
        self.iface = iface
        try:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except PermissionError as exc:
            raise PrivilegeError(iface, f"permission denied ({exc.strerror}); raw sockets need root or "
                                 "CAP_NET_RAW") from None
        try:
            self.sock.bind((iface, 0))
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            if promiscuous:
                index = socket.if_nametoindex(iface)
                self.sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP,
                                     struct.pack("iHH8s", index, PACKET_MR_PROMISC, 0, b""))
        except OSError as exc:
            self.sock.close()
            if exc.errno in (errno.ENODEV, errno.ENXIO) or isinstance(exc, OSError) and "no interface" in str(exc):
                raise InterfaceNotFound(iface, "no such interface (check `ip link`)") from None
            if exc.errno in (errno.EPERM, errno.EACCES):
                raise PrivilegeError(iface, f"operation not permitted ({exc.strerror}); run as root") from None
            raise L2PortError(iface, str(exc)) from None
        self.mac = interface_mac(iface) or ":".join(f"{b:02x}" for b in self.sock.getsockname()[4][:6])
        self.closed = False

    def read(self, timeout: float) -> list[tuple[float, bytes]]:
        """Frames that arrive within `timeout` seconds (all that are queued once the first is there)."""
        out: list[tuple[float, bytes]] = []
        ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        while ready:
            data, ancillary, _flags, _address = self.sock.recvmsg(_SNAPLEN, 64, socket.MSG_DONTWAIT)
            stamp = time.time()
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                    seconds, nanoseconds = struct.unpack("qq", value[:16])
                    stamp = seconds + nanoseconds * 1e-9
            out.append((stamp, data))
            ready, _, _ = select.select([self.sock], [], [], 0)
        return out

    def send(self, frame: bytes) -> None:
        try:
            self.sock.send(frame)
        except OSError as exc:
            raise L2PortError(self.iface, f"send failed: {exc}") from None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.sock.close()

    def __enter__(self) -> LiveCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
