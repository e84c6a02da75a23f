"""Bad input: decode raises only ExiDecodeError (with offset and grammar state), encode errors name the field."""

from __future__ import annotations

import random

import pytest

import stack.exi as exi
from stack.exi import ExiDecodeError, ExiEncodeError, ExiError, _generic

from .session_vectors import SESSIONS, schema_of

VECTORS = [(schema_of(s, m), exi.encode(schema_of(s, m), m)) for s, f in SESSIONS.items() for _d, m in f()]


def _decode_or_typed_error(schema: str, data: bytes) -> None:
    try:
        exi.decode(schema, data)
    except ExiDecodeError as exc:
        assert isinstance(exc, ExiError)
        assert exc.reason
    # anything else propagates and fails the test


def test_every_truncation_is_a_decode_error():
    n = 0
    for schema, data in VECTORS:
        for cut in range(len(data)):
            with pytest.raises(ExiDecodeError):
                exi.decode(schema, data[:cut])
            n += 1
    assert n > 5000


def test_truncation_reports_end_of_stream():
    schema, data = VECTORS[5]
    for cut in range(1, len(data)):
        with pytest.raises(ExiDecodeError, match="end of stream|exceeds the remaining") as info:
            exi.decode(schema, data[:cut])
        assert info.value.bit_offset is not None and info.value.bit_offset <= cut * 8
    assert info.value.state  # grammar and state named


def test_bit_flips_only_raise_decode_errors():
    rnd = random.Random(7)
    for schema, data in VECTORS:
        for _ in range(40):
            b = bytearray(data)
            pos = rnd.randrange(len(b) * 8)
            b[pos >> 3] ^= 0x80 >> (pos & 7)
            for s in (schema, "din", "iso2", "iso20", "iso20_dc"):
                _decode_or_typed_error(s, bytes(b))


def test_random_bytes_only_raise_decode_errors():
    rnd = random.Random(11)
    for _ in range(3000):
        n = rnd.randrange(0, 64)
        data = bytes([0x80]) + rnd.randbytes(n)
        for s in exi.SCHEMAS:
            _decode_or_typed_error(s, data)
        _decode_or_typed_error("din", rnd.randbytes(n))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (b"$EXI\x80", "cookie"),
        (b"\x00\x9a", "distinguishing bits"),
        (b"\xa0\x00", "options"),
        (b"\x81\x00", "version"),
    ],
)
def test_header_errors(data, match):
    with pytest.raises(ExiDecodeError, match=match) as info:
        exi.decode("din", data)
    assert info.value.bit_offset == 0 or data == b""


def test_trailing_bytes_rejected():
    schema, data = VECTORS[3]
    with pytest.raises(ExiDecodeError, match="trailing"):
        exi.decode(schema, data + b"\x00")


def test_not_bytes_and_unknown_schema():
    with pytest.raises(ExiDecodeError):
        exi.decode("din", "809a")  # type: ignore[arg-type]
    with pytest.raises(ExiDecodeError, match="unknown schema"):
        exi.decode("iso3", b"\x80")
    with pytest.raises(ExiEncodeError, match="unknown schema"):
        exi.encode("iso3", {})


def test_undeclared_event_is_reported_with_state():
    # DIN SessionSetupReq with the first-level escape code in the EVCCID start tag (second-level event)
    good = exi.encode("din", {"V2G_Message": {"Header": {"SessionID": "00"}, "Body": {"SessionSetupReq": {"EVCCID": "01"}}}})
    bits = "".join(f"{x:08b}" for x in good)
    # header(8) doc(7) Header SE(1) SessionID SE(1) CH(1) len(8) byte(8) EE(1) Header EE(2) Body SE(1) Body code(6)
    # SessionSetupReq: SE(EVCCID)(1), EVCCID CH bit at the next position -> flip it to 1
    pos = 8 + 7 + 1 + 1 + 1 + 8 + 8 + 1 + 2 + 1 + 6 + 1
    assert bits[pos : pos + 4] == "0000"
    bad = int(bits[:pos] + "1001" + bits[pos + 4 :], 2).to_bytes(len(good), "big")  # escape + code 1: xsi:type
    # the slow path reads the xsi:type QName from what follows, which is not one: the error names where
    with pytest.raises(ExiDecodeError, match="truncated|compact id|names no type") as info:
        exi.decode("din", bad)
    assert info.value.path.endswith("SessionSetupReq.EVCCID")
    assert info.value.bit_offset is not None


# ----------------------------------------------------------------------------------------------- encoding
def _din(body_name: str, body: object) -> dict:
    return {"V2G_Message": {"Header": {"SessionID": "0102030405060708"}, "Body": {body_name: body}}}


_AP = {"ProtocolNamespace": "urn:din:70121:2012:MsgDef", "VersionNumberMajor": 2, "VersionNumberMinor": 0,
       "SchemaID": 1, "Priority": 1}


def _cd(**over: object) -> dict:
    m = {"DC_EVStatus": {"EVReady": True, "EVErrorCode": "NO_ERROR", "EVRESSSOC": 50},
         "EVTargetCurrent": {"Multiplier": 0, "Unit": "A", "Value": 10}, "ChargingComplete": False,
         "EVTargetVoltage": {"Multiplier": 0, "Unit": "V", "Value": 400}}
    m.update(over)
    return m


@pytest.mark.parametrize(
    ("schema", "message", "path", "reason"),
    [
        ("din", _din("SessionSetupReq", {}), "V2G_Message.Body.SessionSetupReq.EVCCID", "missing required"),
        ("din", _din("CableCheckRes", {"ResponseCode": "OK", "EVSEProcessing": "Finished"}),
         "V2G_Message.Body.CableCheckRes.DC_EVSEStatus", "missing required"),
        ("din", _din("SessionSetupReq", {"EVCCID": 5}), "V2G_Message.Body.SessionSetupReq.EVCCID", "hex string"),
        ("din", _din("SessionSetupReq", {"EVCCID": "zz"}), "V2G_Message.Body.SessionSetupReq.EVCCID", "hex"),
        ("din", _din("CurrentDemandReq", _cd(EVTargetCurrent={"Multiplier": 4, "Unit": "A", "Value": 1})),
         "V2G_Message.Body.CurrentDemandReq.EVTargetCurrent.Multiplier", "out of range"),
        ("din", _din("CurrentDemandReq", _cd(EVTargetCurrent={"Multiplier": 0, "Unit": "kA", "Value": 1})),
         "V2G_Message.Body.CurrentDemandReq.EVTargetCurrent.Unit", "not one of"),
        ("din", _din("CurrentDemandReq", _cd(EVTargetCurrent={"Multiplier": 0, "Value": 70000})),
         "V2G_Message.Body.CurrentDemandReq.EVTargetCurrent.Value", "out of range"),
        ("din", _din("CurrentDemandReq", _cd(ChargingComplete="yes")),
         "V2G_Message.Body.CurrentDemandReq.ChargingComplete", "bool"),
        ("din", _din("CurrentDemandReq", _cd(Foo=1)), "V2G_Message.Body.CurrentDemandReq", "unknown key"),
        ("din", _din("CurrentDemandReq", _cd(DC_EVStatus=[1])), "V2G_Message.Body.CurrentDemandReq.DC_EVStatus",
         "mapping"),
        ("din", _din("NoSuchReq", {}), "V2G_Message.Body.NoSuchReq", "unknown key"),
        ("din", _din("SessionSetupReq", {"EVCCID": "01"}) | {"Extra": {}}, "", "exactly one key"),
        ("din", {"NotARoot": {}}, "NotARoot", "not a global element"),
        ("apphand", ["supportedAppProtocolReq"], "", "exactly one key"),  # unpacks, then cannot be subscripted
        ("apphand", "supportedAppProtocolReq", "", "exactly one key"),
        ("apphand", {"supportedAppProtocolReq"}, "", "exactly one key"),
        ("apphand", {"supportedAppProtocolReq": {"AppProtocol": [_AP, "abcde"]}},
         "supportedAppProtocolReq.AppProtocol[1]", "mapping"),  # len 5 like an item: the inline path's TypeError
        ("apphand", {"supportedAppProtocolReq": {"AppProtocol": [[1, 2, 3, 4, 5], _AP]}},
         "supportedAppProtocolReq.AppProtocol[0]", "mapping"),
        ("apphand", {"supportedAppProtocolReq": {"AppProtocol": [_AP, {k: v for k, v in _AP.items() if k != "SchemaID"}]}},
         "supportedAppProtocolReq.AppProtocol[1].SchemaID", "missing required"),
        ("apphand", {"supportedAppProtocolReq": {}}, "supportedAppProtocolReq.AppProtocol", "missing required"),
        ("apphand", {"supportedAppProtocolReq": {"AppProtocol": [
            {"ProtocolNamespace": "a", "VersionNumberMajor": 1, "VersionNumberMinor": 0, "SchemaID": 1, "Priority": 1},
            {"ProtocolNamespace": "b", "VersionNumberMajor": 1, "VersionNumberMinor": 0, "SchemaID": 2,
             "Priority": 21}]}}, "supportedAppProtocolReq.AppProtocol[1].Priority", "out of range"),
        ("apphand", {"supportedAppProtocolReq": {"AppProtocol": [
            {"ProtocolNamespace": "a", "VersionNumberMajor": 1, "VersionNumberMinor": 0, "SchemaID": 1, "Priority": 1}
        ] * 21}}, "supportedAppProtocolReq.AppProtocol[20]", "not allowed"),
        ("apphand", {"supportedAppProtocolReq": {"AppProtocol": {"ProtocolNamespace": "a"}}},
         "supportedAppProtocolReq.AppProtocol", "expected a list"),
        ("iso2", {"V2G_Message": {"Header": {"SessionID": "00"}, "Body": {"ServiceDetailRes": {
            "ResponseCode": "OK", "ServiceID": 1, "ServiceParameterList": {"ParameterSet": [
                {"ParameterSetID": 1, "Parameter": [{"Name": "x", "intValue": 1, "boolValue": True}]}]}}}}},
         "V2G_Message.Body.ServiceDetailRes.ServiceParameterList.ParameterSet[0].Parameter[0].intValue",
         "end of element"),
    ],
)
def test_encode_errors_name_the_field(schema, message, path, reason):
    with pytest.raises(ExiEncodeError) as info:
        exi.encode(schema, message)
    assert info.value.path == path, str(info.value)
    assert reason in str(info.value), str(info.value)


def test_none_counts_as_absent():
    m = _din("CurrentDemandReq", _cd(EVMaximumVoltageLimit=None))
    assert exi.encode("din", m) == exi.encode("din", _din("CurrentDemandReq", _cd()))


def test_bytes_and_upper_case_hex_accepted():
    a = exi.encode("din", _din("SessionSetupReq", {"EVCCID": "0A0B"}))
    b = exi.encode("din", _din("SessionSetupReq", {"EVCCID": b"\x0a\x0b"}))
    assert a == b == exi.encode("din", _din("SessionSetupReq", {"EVCCID": "0a0b"}))
    assert exi.decode("din", a)["V2G_Message"]["Body"]["SessionSetupReq"]["EVCCID"] == "0a0b"


def test_detect_and_names():
    schema, msg = exi.detect(exi.encode("apphand", {"supportedAppProtocolRes": {"ResponseCode": "Failed_NoNegotiation"}}))
    assert schema == "apphand" and msg == {"supportedAppProtocolRes": {"ResponseCode": "Failed_NoNegotiation"}}
    assert "CurrentDemandReq" in exi.message_names("din")
    assert "V2G_Message" in exi.root_names("iso2")
    with pytest.raises(ExiDecodeError, match="no schema"):
        exi.detect(b"\x80\xff\xff")


def test_exificient_empty_values_decode_as_empty_strings():
    # Josev/EXIficient writes "" as an empty element (escape bit + second-level EE); we write CH with length 0
    for schema, josev_hex, ours_hex, path in [
        ("din", "809a004011e00420", "809a004011e0000080", ("SessionSetupRes", "EVSEID")),
        ("iso2", "8098004011b210", "8098004011b00440", ("ServiceDiscoveryReq", "ServiceScope")),
    ]:
        msg = exi.decode(schema, bytes.fromhex(josev_hex))
        assert msg["V2G_Message"]["Body"][path[0]][path[1]] == ""
        assert exi.encode(schema, msg).hex() == ours_hex
        assert exi.decode(schema, bytes.fromhex(ours_hex)) == msg


def test_unsupported_second_level_event_is_named():
    good = bytes.fromhex("809a004011e00420")  # DIN SessionSetupRes with an empty EVSEID (second-level EE)
    bits = "".join(f"{x:08b}" for x in good)
    pos = 53  # after header(8) doc(7) Header(22) Body(7) SessionSetupRes(1) ResponseCode(8) SE(EVSEID)(1)
    assert bits[pos : pos + 4] == "1000"  # escape bit + second-level code 000 (EE) of EVSEID
    bad = int(bits[:pos] + "1100" + bits[pos + 4 :], 2).to_bytes(len(good), "big")  # code 4 = AT, invalid value
    with pytest.raises(ExiDecodeError, match="schema-invalid value is not supported") as info:
        exi.decode("din", bad)
    assert info.value.path.endswith("SessionSetupRes.EVSEID")


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 19, 20])
@pytest.mark.parametrize("odd", [None, 0, 1, 2])
def test_short_lists_decode_on_every_path(count, odd):
    """Lists of every length around the generated straight-line code (unrolled encode, peeled decode that reads
    an item's event code with its length byte), with one item that is not in the common form (a non-ASCII
    namespace, a long one, an integer of two 7-bit groups) at different positions: it takes the fallback in the
    middle of the fast path. The fast path must agree with the grammar interpreter on bytes and dict."""
    items = [dict(_AP, SchemaID=i, Priority=1 + i % 20) for i in range(count)]
    if odd is not None and odd < count:
        items[odd] = dict(items[odd], ProtocolNamespace=["urn:dïn:70121", "u" * 200, "urn:x"][odd % 3],
                          VersionNumberMajor=300 if odd == 2 else 2)
    msg = {"supportedAppProtocolReq": {"AppProtocol": items}}
    data = exi.encode("apphand", msg)
    assert exi.decode("apphand", data) == msg
    assert _generic.encode("apphand", msg) == data
    assert _generic.decode("apphand", data) == msg
    for cut in range(1, len(data)):  # every truncation: only ExiDecodeError
        with pytest.raises(ExiDecodeError):
            exi.decode("apphand", data[:cut])
