"""Run the emulated powerline between real interfaces: one emulated modem per (veth) interface, in a thread.

Each interface is the host side of one modem: whatever a host sends into its veth arrives here (AF_PACKET,
every ethertype: SLAC MMEs and IPv6 alike), goes through `Powerline.from_host` on the monotonic clock, and the
resulting deliveries are written to the target modems' interfaces at their due time. Linux only (AF_PACKET).
"""

from __future__ import annotations

import heapq
import itertools
import os
import select
import socket
import threading
import time
from contextlib import contextmanager, suppress

from harness.sim.modem import Powerline

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


class HostBridge:
    def __init__(self, line: Powerline, modem_of_iface: dict[str, str]) -> None:
        self.line = line
        self.modem_of_iface = dict(modem_of_iface)
        self.iface_of_modem = {m: i for i, m in modem_of_iface.items()}
        self.lock = threading.RLock()
        self._socks: dict[int, tuple[socket.socket, str]] = {}
        self._by_iface: dict[str, socket.socket] = {}
        self._heap: list[tuple[float, int, str, bytes]] = []
        self._seq = itertools.count()
        self._origin = time.monotonic()
        self._wake_r, self._wake_w = os.pipe()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.frames_in = 0
        self.lost: list[str] = []  # interfaces that disappeared while running

    def now(self) -> float:
        return time.monotonic() - self._origin

    @contextmanager
    def locked(self):
        """Change the line (faults, attenuation) while the bridge runs."""
        with self.lock:
            yield self.line

    def start(self) -> None:
        for iface in self.modem_of_iface:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            sock.bind((iface, ETH_P_ALL))
            sock.setblocking(False)
            self._socks[sock.fileno()] = (sock, iface)
            self._by_iface[iface] = sock
        self._thread = threading.Thread(target=self._run, name="modem-bridge", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop = True
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
        for sock, _ in self._socks.values():
            sock.close()
        self._socks.clear()
        for fd in (self._wake_r, self._wake_w):
            with suppress(OSError):
                os.close(fd)

    def _run(self) -> None:
        try:
            while not self._stop:
                timeout = 0.5
                if self._heap:
                    timeout = max(0.0, min(timeout, self._heap[0][0] - self.now()))
                readable, _, _ = select.select([*self._socks, self._wake_r], [], [], timeout)
                for fd in readable:
                    if fd == self._wake_r:
                        os.read(self._wake_r, 64)
                        continue
                    try:
                        self._receive(*self._socks[fd])
                    except OSError:  # the interface went away (an adaptor unplugged): its modem falls silent
                        self._drop(fd)
                self._flush()
        except BaseException as exc:  # surfaced by tests through `bridge.error`
            self.error = exc

    def _receive(self, sock: socket.socket, iface: str) -> None:
        while True:
            try:
                frame, address = sock.recvfrom(65535)
            except BlockingIOError:
                return
            if address[2] == PACKET_OUTGOING:
                continue  # what we ourselves wrote into this interface
            self.frames_in += 1
            with self.lock:
                deliveries = self.line.from_host(self.modem_of_iface[iface], frame, self.now())
            for d in deliveries:
                target = self.iface_of_modem.get(d.modem)
                if target is not None:
                    heapq.heappush(self._heap, (d.at, next(self._seq), target, d.frame))

    def _drop(self, fd: int) -> None:
        sock, iface = self._socks.pop(fd)
        self._by_iface.pop(iface, None)
        self.lost.append(iface)
        with suppress(OSError):
            sock.close()

    def _flush(self) -> None:
        now = self.now()
        while self._heap and self._heap[0][0] <= now:
            _, _, iface, frame = heapq.heappop(self._heap)
            sock = self._by_iface.get(iface)
            if sock is not None:
                with suppress(OSError):  # the interface may go away during teardown
                    sock.send(frame)
