"""SDP and V2GTP/EXI description: one exi record per V2G message, schema learnt from the handshake, fallbacks,
framing errors, and never an exception whatever the bytes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.describe import StreamDescriber, describe_datagram
from stack import exi, v2gtp
from stack.sdp import SdpRequest, SdpResponse
from stack.sessions import apphand, templates
from stack.sessions.messages import v2g

SID = "0102030405060708"


def frame(schema, message):
    return v2gtp.encode_exi(exi.encode(schema, message))


def test_sdp_records_carry_the_fields():
    request = describe_datagram(SdpRequest().to_bytes(), ("fe80::b", 50000), ("ff02::1", 15118))
    assert request == {"layer": "sdp", "name": "SDP.REQ", "src": "[fe80::b]:50000", "dst": "[ff02::1]:15118",
                       "raw": "01fe9000000000021000", "body": {"security": "no TLS", "transport": "TCP"}}
    response = describe_datagram(SdpResponse("fe80::e", 51181).to_bytes(), ("fe80::e", 15118), ("fe80::b", 50000))
    assert response["name"] == "SDP.RES"
    assert response["body"] == {"ip": "fe80::e", "port": 51181, "security": "no TLS", "transport": "TCP"}
    broken = describe_datagram(bytes.fromhex("01fe9001000000021000"), ("fe80::e", 15118), ("fe80::b", 1))
    assert broken["name"] == "SDP.RES" and "expected 20" in broken["error"] and broken["raw"]


def session_bytes(schema: str) -> tuple[bytes, bytes]:
    """(client->server, server->client) byte streams of a handshake choosing `schema` plus one exchange."""
    offer = apphand.offer(["din", "iso2"])
    chosen, _ = apphand.negotiate(offer, [schema])
    up = frame("apphand", offer) + frame(schema, v2g(SID, "SessionSetupReq", templates.body(schema, "SessionSetupReq")))
    down = frame("apphand", chosen) + frame(schema, v2g(SID, "SessionSetupRes",
                                                        templates.body(schema, "SessionSetupRes")))
    return up, down


def test_one_exi_record_per_message_with_the_schema_from_the_handshake():
    for schema in ("din", "iso2"):
        up, down = session_bytes(schema)
        describer = StreamDescriber()
        records = []
        # byte by byte up to the handshake response, then the rest coalesced: framing must not matter
        sap_req_len = len(frame("apphand", apphand.offer(["din", "iso2"])))
        for i in range(sap_req_len):
            records += describer.feed(up[i:i + 1], outgoing=True)
        records += describer.feed(down, outgoing=False)
        records += describer.feed(up[sap_req_len:], outgoing=True)
        assert [(r["layer"], r["name"], r["schema"]) for r in records] == [
            ("exi", "supportedAppProtocolReq", "apphand"), ("exi", "supportedAppProtocolRes", "apphand"),
            ("exi", "SessionSetupRes", schema), ("exi", "SessionSetupReq", schema)]
        assert describer.schema == schema
        assert records[2]["body"]["V2G_Message"]["Header"]["SessionID"] == SID
        assert records[3]["raw"].startswith("01fe8001")


def test_joining_mid_stream_falls_back_to_trying_each_schema():
    message = v2g(SID, "CableCheckReq", templates.body("din", "CableCheckReq"))
    (record,) = StreamDescriber().feed(frame("din", message), outgoing=True)
    assert record["name"] == "CableCheckReq" and record["schema"] in ("din", "iso2")
    assert record["body"]["V2G_Message"]["Body"]["CableCheckReq"]["DC_EVStatus"]["EVRESSSOC"] == 50


def test_other_payload_types_and_framing_errors_are_v2gtp_records():
    describer = StreamDescriber()
    (other,) = describer.feed(v2gtp.encode(0x9000, b"\x10\x00"), outgoing=True)  # SDP has no business on TCP
    assert other == {"layer": "v2gtp", "name": "V2GTP SDP_REQUEST", "raw": "01fe9000000000021000"}
    (iso20,) = describer.feed(v2gtp.encode(0x8004, b"\x80\x00"), outgoing=True)  # ISO-20 DC by payload type
    assert iso20["layer"] == "exi" and iso20["error"].startswith("iso20_dc:")
    (broken,) = describer.feed(bytes.fromhex("02fd800100000000"), outgoing=False)
    assert broken["layer"] == "v2gtp" and broken["name"] == "framing error" and "0x02/0xfd" in broken["error"]
    assert describer.feed(b"more", outgoing=False) == []  # that direction is out of sync for good
    (undecodable,) = StreamDescriber().feed(v2gtp.encode_exi(b"\x80\xff\xff"), outgoing=True)
    assert undecodable["layer"] == "exi" and undecodable["name"] == "?" and undecodable["raw"] == "01fe80010000000380ffff"  # the whole V2GTP message
    assert "din:" in undecodable["error"] and "iso2:" in undecodable["error"]


@settings(deadline=None, max_examples=150)
@given(st.lists(st.binary(max_size=40), max_size=6), st.booleans())
def test_never_raises(chunks, outgoing):
    describer = StreamDescriber()
    for chunk in chunks:
        for record in describer.feed(b"\x01\xfe\x80\x01" + chunk, outgoing):
            assert record["layer"] in ("exi", "v2gtp") and record["name"]
    describe_datagram(b"".join(chunks), ("fe80::1", 1), ("fe80::2", 2))
