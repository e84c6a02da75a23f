"""Describe IP payloads: SDP datagrams, and V2GTP/EXI on TCP streams, as record fields.

- A datagram gives one `sdp` record, `SDP.REQ` / `SDP.RES`, with the decoded fields in `body`.
- A V2GTP message carrying EXI gives ONE `exi` record: `name` = the message element exactly as the XSD spells it
  (`SessionSetupReq`, `supportedAppProtocolReq`), `schema`, `body` = the decoded dict (the whole document, so the
  SessionID is there too), `raw` = the V2GTP message (header included), as frames and datagrams carry theirs.
- Other payload types, framing errors and undecodable EXI give a `v2gtp` record (or an `exi` record with
  `error`), always with `raw`.

The EXI schema of a connection is learnt from its own SupportedAppProtocol exchange (the request maps SchemaID to
namespace, the response picks one); until then — or when a stream joins in the middle — each schema is tried in
turn. ISO 15118-20 messages are told apart by their V2GTP payload type. Nothing here raises.
"""

from __future__ import annotations

from typing import Any

from stack import sdp, v2gtp
from stack.errors import MalformedInput

V2GTP_HEADER = v2gtp.HEADER_LENGTH
_NAMESPACE_SCHEMA = {
    "urn:din:70121:2012:MsgDef": "din",
    "urn:iso:15118:2:2013:MsgDef": "iso2",
}
_ISO20_BY_PAYLOAD = {0x8002: "iso20", 0x8003: "iso20_ac", 0x8004: "iso20_dc", 0x8005: "iso20_acdp",
                     0x8006: "iso20_wpt"}
_FALLBACK = ("apphand", "din", "iso2", "iso20", "iso20_dc", "iso20_ac")


def describe_datagram(data: bytes, src: tuple[str, int], dst: tuple[str, int]) -> dict[str, Any]:
    fields: dict[str, Any] = {"src": f"[{src[0]}]:{src[1]}", "dst": f"[{dst[0]}]:{dst[1]}", "raw": bytes(data).hex()}
    try:
        message = sdp.decode(data)
    except MalformedInput as exc:
        name = "?"
        if len(data) >= 4 and data[0] == 0x01 and data[1] == 0xFE:
            name = {0x9000: "SDP.REQ", 0x9001: "SDP.RES"}.get(int.from_bytes(data[2:4], "big"), "?")
        return {"layer": "sdp", "name": name, **fields, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a describer never raises
        return {"layer": "sdp", "name": "?", **fields, "error": f"{type(exc).__name__}: {exc}"}
    name = "SDP.REQ" if isinstance(message, sdp.SdpRequest) else "SDP.RES"
    return {"layer": "sdp", "name": name, **fields, "body": message.describe()}


def _header(buffer: bytearray, start: int) -> tuple[int, int] | None:
    """(payload type, length) of a plausible V2GTP header at `start`, else None."""
    if buffer[start] != 0x01 or buffer[start + 1] != 0xFE:
        return None
    payload_type = (buffer[start + 2] << 8) | buffer[start + 3]
    length = int.from_bytes(buffer[start + 4:start + 8], "big")
    if payload_type not in v2gtp.KNOWN_PAYLOAD_TYPES or length > v2gtp.DEFAULT_MAX_PAYLOAD:
        return None
    return payload_type, length


def _next_header(buffer: bytearray, start: int) -> int | None:
    """Offset of the next plausible V2GTP header at or after `start` (a full 8 bytes available), else None."""
    position = start
    while True:
        position = buffer.find(b"\x01\xfe", position)
        if position < 0 or len(buffer) - position < V2GTP_HEADER:
            return None
        if _header(buffer, position) is not None:
            return position
        position += 1


def _message_name(message: dict[str, Any]) -> str:
    if "V2G_Message" in message:
        body = message["V2G_Message"].get("Body") or {}
        return next(iter(body), "V2G_Message")
    return next(iter(message), "?")


class StreamDescriber:
    """Reassembles V2GTP messages from both directions of one TCP connection (split or coalesced segments).

    One object per connection, because the EXI schema of the later messages is decided by the
    SupportedAppProtocol exchange, whose request and response travel in opposite directions.

    Live (the runner's timeline) a framing error puts that direction out of sync for good, as it does for the
    stack. Offline (`resync=True`, captures) the describer looks for the next valid V2GTP header instead and says
    which bytes it skipped, `lost()` tells it that bytes of a direction were never captured, and `finish()` reports
    a message cut off by the end of the connection — a capture that joined late or lost segments still decodes
    everything that is there. `hint` is the schema to try first before any handshake was seen (the schema the
    capture's previous connection negotiated)."""

    def __init__(self, schema: str | None = None, *, resync: bool = False, hint: str | None = None) -> None:
        self._streams = {True: v2gtp.V2GTPStream(), False: v2gtp.V2GTPStream()}
        self._buffers = {True: bytearray(), False: bytearray()}
        self._broken = {True: False, False: False}
        self.schema = schema  # negotiated schema, once known
        self.resync = resync
        self.hint = hint
        self._offer: dict[int, str] = {}

    def feed(self, data: bytes, outgoing: bool) -> list[dict[str, Any]]:
        try:
            return self._feed_resync(data, outgoing) if self.resync else self._feed(data, outgoing)
        except Exception as exc:  # noqa: BLE001 - a describer never raises
            return [{"layer": "v2gtp", "name": "?", "error": f"{type(exc).__name__}: {exc}", "raw": bytes(data).hex()}]

    def _feed(self, data: bytes, outgoing: bool) -> list[dict[str, Any]]:
        if self._broken[outgoing]:
            return []
        try:
            messages = self._streams[outgoing].feed(data)
        except v2gtp.V2GTPError as exc:
            self._broken[outgoing] = True
            return [{"layer": "v2gtp", "name": "framing error", "error": str(exc), "raw": bytes(data).hex()}]
        return [self._describe(message) for message in messages]

    # ---------------------------------------------------------------- offline: resynchronising framer

    def _feed_resync(self, data: bytes, outgoing: bool) -> list[dict[str, Any]]:
        buffer = self._buffers[outgoing]
        buffer += data
        out: list[dict[str, Any]] = []
        start = 0
        while len(buffer) - start >= V2GTP_HEADER:
            header = _header(buffer, start)
            if header is None:
                found = _next_header(buffer, start + 1)
                end = found if found is not None else max(start, len(buffer) - V2GTP_HEADER + 1)
                if end > start:
                    out.append({"layer": "v2gtp", "name": "framing error", "raw": bytes(buffer[start:end]).hex(),
                                "error": f"{end - start} bytes that are not a V2GTP message (no valid header: "
                                         f"{bytes(buffer[start:start + V2GTP_HEADER]).hex()}), skipped"})
                start = end
                if found is None:
                    break
                continue
            payload_type, length = header
            end = start + V2GTP_HEADER + length
            if len(buffer) < end:
                break
            out.append(self._describe(v2gtp.V2GTPMessage(payload_type, bytes(buffer[start + V2GTP_HEADER:end]))))
            start = end
        del buffer[:start]
        return out

    def lost(self, outgoing: bool, count: int) -> list[dict[str, Any]]:
        """`count` bytes of this direction were never captured: a message in progress cannot be completed."""
        buffer = self._buffers[outgoing]
        held = bytes(buffer)
        buffer.clear()
        what = f"{count} bytes of the TCP stream were never captured"
        if held:
            what += f"; the {len(held)} bytes of the message in progress before the gap are dropped"
        return [{"layer": "v2gtp", "name": "gap", "error": what, "raw": held.hex()}]

    def finish(self, outgoing: bool | None = None) -> list[dict[str, Any]]:
        """The connection (or the capture, or one direction: `outgoing`) ended: a message still incomplete was cut
        off."""
        out = []
        for direction, buffer in self._buffers.items():
            if not buffer or (outgoing is not None and direction != outgoing):
                continue
            header = _header(buffer, 0) if len(buffer) >= V2GTP_HEADER else None
            need = f" of {V2GTP_HEADER + header[1]}" if header else ""
            out.append({"layer": "v2gtp", "name": "truncated", "outgoing": direction, "raw": bytes(buffer).hex(),
                        "error": f"the connection ended inside a V2GTP message ({len(buffer)}{need} bytes)"})
            buffer.clear()
        return out

    def _describe(self, message: v2gtp.V2GTPMessage) -> dict[str, Any]:
        if message.payload_type not in v2gtp.EXI_PAYLOAD_TYPES:
            return {"layer": "v2gtp", "name": f"V2GTP {v2gtp.payload_type_name(message.payload_type)}",
                    "raw": message.to_bytes().hex()}
        order = self._order(message.payload_type)
        from stack import exi

        errors = []
        for schema in order:
            try:
                decoded = exi.decode(schema, message.payload)
            except exi.ExiError as exc:
                errors.append(f"{schema}: {exc}")
                continue
            name = _message_name(decoded)
            self._learn(name, decoded)
            if schema != "apphand" and self.schema is None:
                self.hint = schema  # a fallback guess that worked: try it first for the next message
            return {"layer": "exi", "name": name, "schema": schema, "body": decoded, "raw": message.to_bytes().hex()}
        return {"layer": "exi", "name": "?", "error": "; ".join(errors) or "no schema to try",
                "raw": message.to_bytes().hex()}

    def _order(self, payload_type: int) -> list[str]:
        if payload_type in _ISO20_BY_PAYLOAD:
            return [_ISO20_BY_PAYLOAD[payload_type]]
        if self.schema is not None and not self.schema.startswith("iso20"):
            first = [self.schema]
        elif self.schema is not None:  # ISO-20 negotiated: 0x8001 only carries the handshake
            first = ["apphand"]
        elif self._offer:  # handshake request seen, response not (yet): the offered schemas
            first = list(dict.fromkeys(self._offer.values()))
        else:
            first = ["apphand"] + ([self.hint] if self.hint else [])
        return first + [s for s in _FALLBACK if s not in first]

    def _learn(self, name: str, decoded: dict[str, Any]) -> None:
        if name == "supportedAppProtocolReq":
            for entry in decoded[name].get("AppProtocol", []):
                namespace = entry.get("ProtocolNamespace", "")
                schema = _NAMESPACE_SCHEMA.get(namespace) or ("iso20" if ":-20:" in namespace else None)
                if schema is not None and "SchemaID" in entry:
                    self._offer[int(entry["SchemaID"])] = schema
        elif name == "supportedAppProtocolRes":
            chosen = decoded[name].get("SchemaID")
            if chosen is not None and int(chosen) in self._offer:
                self.schema = self._offer[int(chosen)]
