"""Describe IP payloads: SDP datagrams and V2GTP/EXI on TCP streams."""

from __future__ import annotations

from typing import Any

V2GTP_HEADER = 8


def describe_datagram(data: bytes, src: tuple[str, int], dst: tuple[str, int]) -> dict[str, Any]:
    fields: dict[str, Any] = {"src": f"[{src[0]}]:{src[1]}", "dst": f"[{dst[0]}]:{dst[1]}"}
    if len(data) >= V2GTP_HEADER and data[0] == 0x01 and data[1] == 0xFE:
        payload_type = int.from_bytes(data[2:4], "big")
        name = {0x9000: "SDP.REQ", 0x9001: "SDP.RES"}.get(payload_type, f"V2GTP 0x{payload_type:04x}")
        return {"layer": "sdp", "name": name, **fields, "raw": data.hex()}
    return {"layer": "sdp", "name": "?", **fields, "error": "not a V2GTP datagram", "raw": data.hex()}


class StreamDescriber:
    """Reassembles V2GTP messages from both directions of one TCP connection (split or coalesced segments).

    One object per connection, because the EXI schema of the later messages is decided by the
    SupportedAppProtocol exchange, whose request and response travel in opposite directions."""

    def __init__(self) -> None:
        self._buffers = {True: bytearray(), False: bytearray()}

    def feed(self, data: bytes, outgoing: bool) -> list[dict[str, Any]]:
        buffer = self._buffers[outgoing]
        buffer += data
        out: list[dict[str, Any]] = []
        while len(buffer) >= V2GTP_HEADER:
            length = int.from_bytes(buffer[4:8], "big")
            if len(buffer) < V2GTP_HEADER + length:
                break
            message = bytes(buffer[: V2GTP_HEADER + length])
            del buffer[: V2GTP_HEADER + length]
            payload_type = int.from_bytes(message[2:4], "big")
            out.append({"layer": "v2gtp", "name": f"V2GTP 0x{payload_type:04x}", "raw": message.hex()})
        return out
