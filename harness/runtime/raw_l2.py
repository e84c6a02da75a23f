"""Raw Ethernet on a named interface (HomePlug MMEs, ethertype 0x88E1) through scapy's L2 sockets.

Linux: scapy's `L2Socket` (AF_PACKET) bound to ethertype 0x88E1, so the kernel hands us only HomePlug frames and
none of the IP traffic. Windows and macOS: scapy's libpcap/Npcap socket (`conf.L2socket`) with the BPF filter
`ether proto 0x88e1` — needs Npcap (Windows, "WinPcap API-compatible mode") or libpcap (macOS, root or the
ChmodBPF helper). CI covers Linux only.

Errors are typed: `PrivilegeError` (raw sockets need root / CAP_NET_RAW) and `InterfaceNotFound` name the
interface and what to do; anything else the OS says becomes an `L2PortError` with the interface name.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Iterable

from stack import sansio as io
from stack.homeplug.frames import ETHERTYPE_HOMEPLUG, QUALCOMM_LOCAL_MAC


class L2PortError(RuntimeError):
    def __init__(self, iface: str, why: str) -> None:
        self.iface, self.why = iface, why
        super().__init__(f"raw Ethernet on {iface!r}: {why}")


class PrivilegeError(L2PortError):
    """Opening a raw socket was refused."""


class InterfaceNotFound(L2PortError):
    """No such network interface (in this network namespace)."""


def open_l2_socket(iface: str, ethertype: int = ETHERTYPE_HOMEPLUG):
    """A scapy L2 socket receiving only `ethertype` frames on `iface`; typed errors when it cannot be had."""
    try:
        if sys.platform.startswith("linux"):
            from scapy.arch.linux import L2Socket

            return L2Socket(iface=iface, type=ethertype, promisc=False)
        from scapy.config import conf

        return conf.L2socket(iface=iface, filter=f"ether proto 0x{ethertype:04x}", promisc=False)
    except PermissionError as exc:
        raise PrivilegeError(iface, f"permission denied ({exc.strerror or exc}); raw sockets need root or "
                             "CAP_NET_RAW (Linux), Npcap (Windows) or BPF access (macOS)") from None
    except OSError as exc:
        if exc.errno in (errno.ENODEV, errno.ENXIO) or "No such device" in str(exc):
            raise InterfaceNotFound(iface, "no such interface (check `ip link` / the rig file)") from None
        if exc.errno in (errno.EPERM, errno.EACCES):
            raise PrivilegeError(iface, f"operation not permitted ({exc.strerror}); run as root") from None
        raise L2PortError(iface, str(exc)) from None
    except ValueError as exc:  # scapy: unknown interface name on pcap platforms
        raise InterfaceNotFound(iface, str(exc)) from None


class RawL2Port:
    """The runner's `L2Port` for a real (or veth) interface: frames to the node, frames from the node."""

    def __init__(self, runner, node, iface: str, modem_macs: Iterable[str] = (QUALCOMM_LOCAL_MAC,)) -> None:
        self.runner, self.node, self.iface = runner, node, iface
        self.modem_macs = {m.lower() for m in modem_macs}
        self.sock = open_l2_socket(iface)
        self.closed = False
        node.l2 = self
        runner.register_reader(self.sock, self._readable)

    def send(self, frame: bytes, now: float) -> None:
        try:
            self.sock.send(frame)
        except OSError as exc:
            raise L2PortError(self.iface, f"send failed: {exc}") from None

    def local_modems(self) -> set[str]:
        return set(self.modem_macs)

    def _readable(self) -> None:
        try:
            _, data, _ = self.sock.recv_raw(65535)
        except OSError as exc:
            raise L2PortError(self.iface, f"receive failed: {exc}") from None
        if data:  # None: our own outgoing frame, which scapy filters out
            self.runner.deliver(self.node, io.FrameReceived(bytes(data)), source=None)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.runner.unregister_reader(self.sock)
            self.sock.close()
