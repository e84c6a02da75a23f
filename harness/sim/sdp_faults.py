"""SDP DUT faults that message faults cannot express (`--dut-fault NAME`): how a faulty charger's SDP server reads
requests and where it sends its answers. (Faults on the SDP messages themselves — dropped, late, wrong fields —
are `FaultSet`s in `stack.sessions.fault_sets`.)

`apply(bench, role, endpoint, node)` wraps the SDP server of our charger in the DUT seat (`Evse.sdp`); called by
`harness.nodes` through `harness.sim.apply_dut_faults`.
"""

from __future__ import annotations

from typing import Any

from stack import sansio as io
from stack import sdp
from stack.errors import MalformedInput

DUT_ROLE = "evse"
FAULTS = {
    "evse-sdp-answers-malformed": "evse DUT: answers a malformed SECC Discovery Request as if it were valid "
                                  "[CCSHIL-SDP-SE-07]",
    "evse-sdp-replies-to-multicast": "evse DUT: sends its SECC Discovery Response to ff02::1:15118 instead of "
                                     "back to the car [V2G2-139]",
}


class _FaultySdpServer:
    """`stack.sdp.SdpServer` with one of the behaviours above; everything else is the server's."""

    def __init__(self, server: sdp.SdpServer, faults: set[str]) -> None:
        self.server, self.faults = server, faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["server"], name)

    def handle(self, event: io.Input, now: float) -> list[io.Output]:
        if isinstance(event, io.DatagramReceived) and "evse-sdp-answers-malformed" in self.faults:
            try:
                sdp.decode(event.data)
            except MalformedInput:
                event = io.DatagramReceived(sdp.SdpRequest().to_bytes(), event.src, event.dst)
        return self._redirect(self.server.handle(event, now))

    def set_port(self, port: int) -> list[io.Output]:
        return self._redirect(self.server.set_port(port))

    def _redirect(self, outputs: list[io.Output]) -> list[io.Output]:
        if "evse-sdp-replies-to-multicast" not in self.faults:
            return outputs
        return [io.SendDatagram(o.data, (sdp.SDP_MULTICAST_GROUP, sdp.SDP_SERVER_PORT), o.src_port)
                if isinstance(o, io.SendDatagram) else o for o in outputs]


def apply(bench: Any, role: str, endpoint: Any, node: str) -> None:
    chosen = set(bench.dut_faults) & set(FAULTS)
    if role == DUT_ROLE and chosen and isinstance(getattr(endpoint, "sdp", None), sdp.SdpServer):
        endpoint.sdp = _FaultySdpServer(endpoint.sdp, chosen)
