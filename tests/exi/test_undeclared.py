"""xsi:type, xsi:nil, undeclared and wildcard content: the grammar interpreter behind the fast path
(stack.exi._generic), against EXIficient's bytes and against the fast path itself."""

from __future__ import annotations

import os
import random
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stack.exi as exi
from stack.exi import _generic

from .grammar_walk import fields_of, meta, root_key
from .josev import run_exificient, unavailable_reason
from .strategies import message_strategy
from .undeclared_vectors import GOLDEN, INVALID, XML

NAMES = sorted(GOLDEN)
EXAMPLES = int(os.environ.get("EXI_HYPOTHESIS_EXAMPLES", "15"))
CASES = [(schema, name) for schema in exi.SCHEMAS for name in exi.message_names(schema)]


def body(msg: dict) -> object:
    (root,) = msg.values()
    return root.get("Body", root) if isinstance(root, dict) else root


# --------------------------------------------------------------------------------- EXIficient's own bytes
@pytest.mark.parametrize("name", NAMES)
def test_exificient_bytes_decode_and_encode_back(name):
    schema, _xml = XML[name]
    data = bytes.fromhex(GOLDEN[name])
    msg = exi.decode(schema, data)
    if name in INVALID:  # schema-invalid content: decoded as what it says, refused on encode with the field
        with pytest.raises(exi.ExiEncodeError, match=INVALID[name]) as info:
            exi.encode(schema, msg)
        assert info.value.path.startswith(next(iter(msg)))
        return
    assert exi.encode(schema, msg) == data
    assert exi.decode(schema, exi.encode(schema, msg)) == msg


def test_decoded_forms():
    def dec(name):  # type: ignore[no-untyped-def]
        return body(exi.decode(XML[name][0], bytes.fromhex(GOLDEN[name])))

    xs, foo = "{http://www.w3.org/2001/XMLSchema}", "{urn:foo}"
    assert dec("iso2 nil simple") == {"SessionSetupReq": {"EVCCID": {"xsi:nil": True}}}
    assert dec("iso2 nil with attribute") == {"AuthorizationReq": {"xsi:nil": True, "Id": "a1"}}
    assert dec("iso2 type builtin") == {"SessionSetupReq": {"EVCCID": {"xsi:type": xs + "hexBinary", "value": "0a0b"}}}
    assert dec("iso2 type string on int") == {
        "SessionStopReq": {"ChargingSession": {"xsi:type": xs + "string", "value": "Whatever"}}}
    assert dec("iso2 type derived")["ChargeParameterDiscoveryRes"]["SASchedules"]["xsi:type"] == (
        "{urn:iso:15118:2:2013:MsgDataTypes}SAScheduleListType")
    assert dec("iso2 type foreign") == {"SessionSetupReq": {"EVCCID": {"xsi:type": foo + "bar", "value": "0a"}}}
    assert dec("iso2 at star") == {"SessionSetupReq": {"@{urn:foo}bar": "x", "@{}baz": "y", "EVCCID": "0a"}}
    assert dec("iso2 se star unknown") == {"SessionSetupReq": {"EVCCID": "0a", foo + "Extra": "hi"}}
    assert dec("iso2 se star twice") == {"SessionSetupReq": {"EVCCID": "0a", foo + "Extra": ["a", "b"]}}
    assert dec("iso2 se star unknown nested")["SessionSetupReq"][foo + "Extra"] == {"#ordered": [
        ["@{urn:foo}a", "1"], [foo + "Inner", "x"], ["#text", "tail"], [foo + "Inner", "y"]]}
    assert dec("iso2 untyped ch nbit") == {"PowerDeliveryReq": {"ChargeProgress": "Start", "SAScheduleTupleID": "0"}}
    assert dec("iso2 empty element") == {"SessionSetupReq": {}}
    assert dec("root unknown") == "x"
    header = exi.decode("iso2", bytes.fromhex(GOLDEN["iso2 sig mixed"]))["V2G_Message"]["Header"]
    assert header["Signature"]["KeyInfo"] == {"#ordered": [["#text", "lead"], ["KeyName", "k1"], ["#text", "mid"]]}
    wild = exi.decode("iso2", bytes.fromhex(GOLDEN["iso2 sig wildcard"]))["V2G_Message"]["Header"]["Signature"]
    assert wild["KeyInfo"] == {"KeyName": ["k1"], foo + "Key": ["abc"]}  # the choice repeats: lists
    assert wild["Object"] == [{"Id": "o1", foo + "Data": ["d"]}]


# --------------------------------------------------------------------------------- dicts written by hand
def msg_iso2(body_: dict) -> dict:
    return {"V2G_Message": {"Header": {"SessionID": "0102030405060708"}, "Body": body_}}


def test_hand_written_dicts_give_exificients_bytes():
    assert exi.encode("iso2", msg_iso2({"SessionSetupReq": {"EVCCID": {"xsi:nil": True}}})).hex() == GOLDEN[
        "iso2 nil simple"]
    # a bare local name is resolved when it names exactly one type of the schema set
    typed = msg_iso2({"SessionSetupReq": {"xsi:type": "SessionSetupReqType", "EVCCID": "0a"}})
    assert exi.encode("iso2", typed).hex() == GOLDEN["iso2 type same complex"]
    other = msg_iso2({"SessionSetupReq": {"xsi:type": "SessionStopReqType", "ChargingSession": "Terminate"}})
    assert exi.encode("iso2", other).hex() == GOLDEN["iso2 type other complex"]
    extra = msg_iso2({"SessionSetupReq": {"EVCCID": "0a", "{urn:foo}Extra": "hi"}})
    assert exi.encode("iso2", extra).hex() == GOLDEN["iso2 se star unknown"]


def test_xsi_nil_false_is_kept():
    m = msg_iso2({"SessionSetupReq": {"EVCCID": {"xsi:nil": False, "value": "0a"}}})
    assert exi.decode("iso2", exi.encode("iso2", m)) == m


@pytest.mark.parametrize(("body_", "match"), [
    ({"SessionSetupReq": {"xsi:type": "NoSuchType", "EVCCID": "0a"}}, "not a type of schema 'iso2'"),
    ({"SessionSetupReq": {"xsi:type": 5, "EVCCID": "0a"}}, "must be a type name"),
    ({"SessionSetupReq": {"EVCCID": {"xsi:nil": "yes"}}}, "expected a bool"),
    ({"SessionSetupReq": {"xsi:nil": True, "EVCCID": "0a"}}, "not allowed at this position"),
    ({"SessionSetupReq": {"EVCCID": "0a", "Typo": 1, "{urn:foo}Extra": "x"}}, "not allowed at this position"),
    ({"SessionSetupReq": {"EVCCID": "0a", "{urn:foo": "x"}}, "not a qualified name"),
    ({"SessionSetupReq": {"#ordered": [["EVCCID"]]}}, "#ordered"),
])
def test_bad_dicts_name_the_field(body_, match):
    with pytest.raises(exi.ExiEncodeError, match=match) as info:
        exi.encode("iso2", msg_iso2(body_))
    assert info.value.path.startswith("V2G_Message.Body")


def test_bare_unknown_key_is_still_an_error_on_the_fast_path():
    with pytest.raises(exi.ExiEncodeError, match="unknown key"):
        exi.encode("iso2", msg_iso2({"SessionSetupReq": {"EVCCID": "0a", "Extra": "x"}}))


def test_bit_flipped_vectors_only_raise_decode_errors():
    rnd = random.Random(7)
    n = 0
    for name in NAMES:
        schema = XML[name][0]
        data = bytearray.fromhex(GOLDEN[name])
        for _ in range(300):
            bad = bytearray(data)
            for _ in range(rnd.randint(1, 3)):
                i = rnd.randrange(1, len(bad))
                bad[i] ^= 1 << rnd.randrange(8)
            if rnd.random() < 0.2:
                bad = bad[: rnd.randrange(1, len(bad))]
            try:
                exi.decode(schema, bytes(bad))
            except exi.ExiDecodeError:
                n += 1
    assert n > 1000  # most mutations are errors; none is anything but ExiDecodeError


# --------------------------------------------------------------------- the interpreter vs the fast path
@cache
def clark_of(schema: str) -> dict[str, str]:
    return {key: clark for clark, key in meta(schema)["type_names"].items()}


def decorate(schema: str, key: str, value: object, rnd: random.Random) -> object:
    """Copy of `value` (an instance of type `key`) with xsi:type (naming its own type) or xsi:nil added to
    some elements."""
    t = meta(schema)["types"][key]
    if t["is_simple_type"]:
        roll = rnd.random()
        if roll < 0.15 and key in clark_of(schema):
            return {"xsi:type": clark_of(schema)[key], "value": value}
        if roll < 0.25:
            return {"xsi:nil": True}
        return value
    assert isinstance(value, dict)
    f = fields_of(schema, key)
    out: dict = {}
    roll = rnd.random()
    if roll < 0.1:
        return {"xsi:nil": True, **{k: v for k, v in value.items() if f[k][0] == "AT"}}
    if roll < 0.25 and key in clark_of(schema):
        out["xsi:type"] = clark_of(schema)[key]
    for name, v in value.items():
        kind, ref = f[name]
        if kind != "SE":
            out[name] = v
        elif isinstance(v, list):
            out[name] = [decorate(schema, ref, x, rnd) for x in v]  # type: ignore[arg-type]
        else:
            out[name] = decorate(schema, ref, v, rnd)  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize(("schema", "name"), CASES, ids=[f"{s}-{n}" for s, n in CASES])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_interpreter_agrees_with_fast_path_and_round_trips_xsi(schema, name, data, seed):
    msg = data.draw(message_strategy(schema, name))
    fast = exi.encode(schema, msg)
    assert _generic.encode(schema, msg) == fast  # same grammar walked by the interpreter: same bytes
    assert _generic.decode(schema, fast) == msg
    (root, value), = msg.items()
    decorated = {root: decorate(schema, root_key(schema, root), value, random.Random(seed))}
    data_ = exi.encode(schema, decorated)
    assert exi.decode(schema, data_) == decorated


# ------------------------------------------------------------------------------------- EXIficient live
needs_exificient = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))


@needs_exificient
def test_exificient_still_writes_these_bytes_and_reads_ours():
    requests = [{"op": "xml2exi", "schema": XML[n][0], "xml": XML[n][1]} for n in NAMES]
    ours = {n: exi.encode(XML[n][0], exi.decode(XML[n][0], bytes.fromhex(GOLDEN[n])))
            for n in NAMES if n not in INVALID}
    requests += [{"op": "exi2xml", "schema": XML[n][0], "hex": ours[n].hex()} for n in ours]
    results = run_exificient(requests)
    for n, r in zip(NAMES, results, strict=False):
        assert r["ok"], (n, r)
        assert r["hex"] == GOLDEN[n], n
    back = results[len(NAMES):]
    # EXIficient reads every stream we write, and writes the same bytes for the XML it reads from it
    again = run_exificient([{"op": "xml2exi", "schema": XML[n][0], "xml": r["xml"]}
                        for n, r in zip(ours, back, strict=True) if r["ok"]])
    assert all(r["ok"] for r in back), [r for r in back if not r["ok"]][:3]
    for n, r in zip(ours, again, strict=True):
        assert r["ok"] and bytes.fromhex(r["hex"]) == ours[n], n


@needs_exificient
def test_exificient_decodes_decorated_messages_like_we_do():
    """Random session messages with xsi:type/xsi:nil sprinkled in: EXIficient reads our bytes and, writing the
    XML it read back to EXI, produces the same bytes."""
    from .session_vectors import SESSIONS, schema_of

    rnd = random.Random(11)
    vectors = []
    for session, make in SESSIONS.items():
        for _direction, msg in make():
            schema = schema_of(session, msg)
            (root, value), = msg.items()
            decorated = {root: decorate(schema, root_key(schema, root), value, rnd)}
            vectors.append((schema, exi.encode(schema, decorated)))
    read = run_exificient([{"op": "exi2xml", "schema": s, "hex": d.hex()} for s, d in vectors])
    assert all(r["ok"] for r in read), [r for r in read if not r["ok"]][:3]
    written = run_exificient([{"op": "xml2exi", "schema": s, "xml": r["xml"]} for (s, _), r in zip(vectors, read, strict=True)])
    mismatches = [(s, d.hex(), w.get("hex")) for (s, d), w in zip(vectors, written, strict=True)
                  if bytes.fromhex(w.get("hex", "")) != d]
    assert not mismatches, mismatches[:3]
    assert len(vectors) > 100
