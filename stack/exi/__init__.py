"""Pure-Python EXI codec for the V2G message sets: SupportedAppProtocol, DIN SPEC 70121, ISO 15118-2, ISO 15118-20.

EXI options are the ones V2G prescribes: schema-informed, bit-packed, non-strict, default fidelity options, header
byte 0x80 (no options, no cookie), valuePartitionCapacity=0, no built-in grammar learning. Grammars are
generated from the vendored XSDs by ``python -m stack.exi.generate`` into ``stack.exi._grammars`` (committed);
nothing parses XSD at import or run time and grammar modules are imported on first use.

Schemas: ``apphand`` (SupportedAppProtocol), ``din``, ``iso2``, ``iso20`` (-20 CommonMessages), ``iso20_ac``,
``iso20_dc``, ``iso20_wpt``, ``iso20_acdp``.

The dict ("wire model") mirrors the XML document:

- the top level has exactly one key, the document (root) element: ``{"V2G_Message": {"Header": {...},
  "Body": {"SessionSetupReq": {...}}}}`` for din/iso2, ``{"supportedAppProtocolReq": {...}}`` for apphand and
  the message element itself for -20 (``{"SessionSetupReq": {"Header": ..., "EVCCID": ...}}``);
- keys are XSD local names; a substitution group (e.g. the DIN/ISO-2 ``Body`` content, ``EVSEStatus``) is
  written with the name of the element actually used (``"DC_EVSEStatus"``);
- an element that may occur more than once (maxOccurs > 1) is always a list, even with one item;
- optional elements and attributes are simply absent (a key with value None counts as absent on encode);
- values: integers ``int``, booleans ``bool``, enumerations their string value, strings ``str``,
  hexBinary and base64Binary lowercase hex strings (encode also accepts bytes and upper case);
- attributes (e.g. ``Id``) are keys of the element's dict like child elements; an element with simple content
  *and* attributes (e.g. ISO-2 ``eMAID`` in CertificateInstallationRes, xmldsig ``SignatureValue``) is a dict
  ``{"Id": ..., "value": ...}``; an element of simple type is just its value;
- an element with empty content is ``{}``; an empty string or binary value is ``""``. Encoding writes it as
  a CH event with a zero-length value (as OpenV2G and cbexigen do, whose C decoders reject anything else);
  decoding also accepts EXIficient's (Josev's) form, an empty element ending with a second-level EE.

Errors: `ExiEncodeError` (``.path`` of the offending field and ``.reason``), `ExiDecodeError` (``.bit_offset``,
``.state``, ``.path``), both `ExiError`. `decode` raises nothing but ExiDecodeError, whatever the bytes.
Decoding is lenient about value facets that do not affect the encoding (string/binary lengths, integer
ranges of Integer/Unsigned representations); encoding checks ranges, enumerations, types, occurrence counts.
The generated fast path covers the declared (first-level) events, which is all V2G peers send. Everything
else non-strict EXI allows, xsi:type, xsi:nil, undeclared attributes and elements, untyped text, wildcard
(xs:any) and mixed content, goes through the grammar interpreter in `stack.exi._generic` (its docstring gives
the dict keys: ``"xsi:type"``, ``"xsi:nil"``, ``"{uri}local"`` elements, ``"@{uri}local"`` attributes,
``"#text"``): decode falls back to it on the first undeclared event, encode when the message uses those keys.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from . import _runtime
from .errors import ExiDecodeError, ExiEncodeError, ExiError

__all__ = [
    "SCHEMAS",
    "ExiDecodeError",
    "ExiEncodeError",
    "ExiError",
    "decode",
    "detect",
    "encode",
    "message_names",
    "root_names",
]

SCHEMAS: tuple[str, ...] = ("apphand", "din", "iso2", "iso20", "iso20_ac", "iso20_dc", "iso20_wpt", "iso20_acdp")
_modules: dict[str, ModuleType] = {}
_encoders: dict[str, dict] = {}  # schema -> {document element: (header byte + its event code, encoder)}
_decoders: dict[str, tuple] = {}  # schema -> (document event-code width, header byte 0x80 above it,
#                                             ((name, decoder), ...), count)
_from_bytes = int.from_bytes  # a global name: cheaper than the attribute lookup on `int` per call


def _module(schema: str) -> ModuleType:
    mod = _modules.get(schema)
    if mod is None:
        if schema not in SCHEMAS:
            raise KeyError(schema)
        mod = importlib.import_module(f"{__name__}._grammars.{schema}")
        _modules[schema] = mod
        _encoders[schema] = {name: ((0x80 << mod.DOC_WIDTH) | code, fn) for name, (code, fn) in mod._DOC_E.items()}
        _decoders[schema] = (mod.DOC_WIDTH, 0x80 << mod.DOC_WIDTH, mod._DOC_D, len(mod._DOC_D))
    return mod


def _meta(schema: str) -> dict:
    return importlib.import_module(f"{__name__}._grammars.{schema}_meta").META  # type: ignore[no-any-return]


def encode(schema: str, message: dict) -> bytes:
    """Encode a message dict (see the module docstring) into an EXI stream, header byte included."""
    try:  # subscripts, not .get: no method call on the hot path
        doc = _encoders[schema]
    except KeyError:
        doc = _encoders_of(schema)
    try:
        name, = message  # exactly one key: unpacking checks the count
        # the document element's event code and encoder (the module's _DOC_E, looked up here: no call for
        # it); the header byte 0x80 is the accumulator's start: its top bit doubles as the sentinel that keeps
        # leading zero bits countable
        t = doc[name]
        body = message[name]  # a TypeError for anything but a mapping (a list, a string, a set ...)
    except KeyError:
        if isinstance(message, dict):
            return _not_a_root(schema, message, name)
        raise _not_a_message() from None
    except Exception:  # noqa: BLE001 - not a one-key mapping, whatever it is
        raise _not_a_message() from None
    try:
        a = t[1](t[0], body)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a typed error with the field path
        if _needs_generic(message):
            return _encode_generic(schema, message)
        raise _encode_error(exc, schema, _modules[schema], name) from None
    n = a.bit_length()  # pad to whole bytes
    return (a << (-n & 7)).to_bytes(n + 7 >> 3, "big")  # type: ignore[no-any-return]


def _not_a_message() -> ExiEncodeError:
    return ExiEncodeError("", "message must be a dict with exactly one key, the document element")


def _encoders_of(schema: str) -> dict:
    try:
        _module(schema)
    except KeyError:
        raise ExiEncodeError("", f"unknown schema {schema!r}; known: {', '.join(SCHEMAS)}") from None
    return _encoders[schema]


def _not_a_root(schema: str, message: dict, name: object) -> bytes:
    if _needs_generic(message):  # e.g. a document element named "{uri}local"
        return _encode_generic(schema, message)
    raise ExiEncodeError(str(name), f"{name!r} is not a global element of schema {schema}")


def decode(schema: str, data: bytes) -> dict:
    """Decode one EXI stream (V2GTP payload) into a message dict. Raises only ExiDecodeError."""
    try:
        dec = _decoders[schema]
    except KeyError:
        try:
            _module(schema)
            dec = _decoders[schema]
        except KeyError:
            raise ExiDecodeError(f"unknown schema {schema!r}; known: {', '.join(SCHEMAS)}") from None
    if data.__class__ is not bytes and not isinstance(data, (bytes, bytearray, memoryview)):
        raise ExiDecodeError(f"expected bytes, got {type(data).__name__}")
    total = len(data) << 3
    v = _from_bytes(data, "big")
    # the header byte and the document element's event code in one read (what the module's decode_document
    # does, one call less); anything but 0x80 and a declared element lands outside 0..ndocs-1
    width, base, docs, ndocs = dec  # type: ignore[misc]
    r = total - 8 - width
    c = (v >> r) - base if r >= 0 else -1
    if not 0 <= c < ndocs:
        return _decode_document(schema, data, v, total)
    name, fn = docs[c]
    try:
        x, r = fn(v, r)
    except Exception as exc:  # noqa: BLE001 - decode must only ever raise ExiDecodeError
        return _decode_fallback(exc, schema, data, total, name)
    if r >= 8:
        raise ExiDecodeError(f"{r >> 3} trailing byte(s) after the end of the document", total - r)
    return {name: x}


def _decode_document(schema: str, data: bytes, v: int, total: int) -> dict:
    """A stream the fast dispatch in `decode` does not take: a wrong header, SE(*) or too short."""
    if not data or data[0] != 0x80:
        raise _header_error(data)
    try:
        out, r = _modules[schema].decode_document(v, total - 8)
    except Exception as exc:  # noqa: BLE001 - decode must only ever raise ExiDecodeError
        return _decode_fallback(exc, schema, data, total, "")
    if r >= 8:
        raise ExiDecodeError(f"{r >> 3} trailing byte(s) after the end of the document", total - r)
    return out  # type: ignore[no-any-return]


def _decode_fallback(exc: Exception, schema: str, data: bytes, total: int, root: str) -> dict:
    """The fast path failed: a second-level event (or one it read past the end). The grammar interpreter knows
    them all; when it fails too, the fast path's error stands unless that was about an undeclared event."""
    error = _decode_error(exc, schema, _modules[schema], total, root)
    return _decode_generic(schema, bytes(data), None if isinstance(exc, _runtime.Undeclared) else error)


def _header_error(data: bytes) -> ExiDecodeError:
    if not data:
        return ExiDecodeError("empty EXI stream", 0)
    first = data[0]
    if data[:4] == b"$EXI":
        reason = "EXI cookie '$EXI' present; V2G streams start directly with header byte 0x80"
    elif first & 0xC0 != 0x80:
        reason = f"not an EXI stream: header byte {first:#04x} lacks the distinguishing bits '10'"
    elif first & 0x20:
        reason = "EXI options in the header are not supported (V2G uses header byte 0x80)"
    else:
        reason = f"unsupported EXI version in header byte {first:#04x}"
    return ExiDecodeError(reason, 0)


def root_names(schema: str) -> tuple[str, ...]:
    """All global elements of a schema (valid top-level keys), in EXI document-grammar order."""
    return _module(schema).ROOT_NAMES  # type: ignore[no-any-return]


def message_names(schema: str) -> tuple[str, ...]:
    """Names of the V2G messages of a schema: Body members for din/iso2, the SAP req/res for apphand, the
    message elements (…Req/…Res) for the ISO 15118-20 schemas."""
    return _module(schema).MESSAGE_NAMES  # type: ignore[no-any-return]


def detect(data: bytes, schemas: tuple[str, ...] = SCHEMAS) -> tuple[str, dict]:
    """Try each schema in turn and return (schema, message) for the first that decodes the whole stream.

    Several schemas can accept the same bytes (the first bits only index global elements), so prefer
    `decode` with the schema negotiated via SupportedAppProtocol whenever it is known.
    """
    errors = []
    for schema in schemas:
        try:
            return schema, decode(schema, data)
        except ExiDecodeError as exc:
            errors.append(f"{schema}: {exc}")
    raise ExiDecodeError("no schema decodes this stream (" + "; ".join(errors) + ")")


# ------------------------------------------------------------------------------------------------ slow path
def _needs_generic(message: dict) -> bool:
    from . import _generic  # imported on first use: most programs never need the slow path

    return _generic.needs_generic(message)


def _decode_generic(schema: str, data: bytes, fast_error: ExiDecodeError | None) -> dict:
    from . import _generic

    try:
        return _generic.decode(schema, data)
    except _generic.Problem as exc:
        if fast_error is not None:
            raise fast_error from None
        raise ExiDecodeError(exc.reason, getattr(exc, "offset", None), exc.state, exc.path) from None
    except Exception as exc:  # noqa: BLE001 - decode must only ever raise ExiDecodeError
        if fast_error is not None:
            raise fast_error from None
        raise ExiDecodeError(f"malformed stream ({type(exc).__name__}: {exc})") from None


def _encode_generic(schema: str, message: dict) -> bytes:
    from . import _generic

    try:
        return _generic.encode(schema, message)
    except _generic.Problem as exc:
        raise ExiEncodeError(exc.path, exc.reason) from None
    except Exception as exc:  # noqa: BLE001 - every failure becomes a typed error
        raise ExiEncodeError("", f"cannot encode value ({type(exc).__name__}: {exc})") from None


# ------------------------------------------------------------------------------------------ error reporting
def _frames(exc: BaseException) -> list:
    out = []
    tb = exc.__traceback__
    while tb is not None:
        out.append(tb.tb_frame)
        tb = tb.tb_next
    return out


def _decode_error(exc: Exception, schema: str, mod: ModuleType, total: int, root: str = "") -> ExiDecodeError:
    files = {mod.__file__, _runtime.__file__}
    frames = [f for f in _frames(exc) if f.f_code.co_filename in files]
    r = None
    for f in reversed(frames):
        if "r" in f.f_locals and isinstance(f.f_locals["r"], int):
            r = f.f_locals["r"]
            break
    offset = None if r is None else max(0, total - r)
    if isinstance(exc, _runtime.Undeclared):
        reason = str(exc)
    elif isinstance(exc, ValueError) and "negative shift count" in str(exc):
        reason = "unexpected end of stream (truncated message)"
        offset = total
    elif isinstance(exc, IndexError):
        reason = "enumeration value index out of range"
    elif isinstance(exc, RecursionError):
        reason = "nesting too deep"
    else:
        reason = f"malformed stream ({type(exc).__name__}: {exc})"
    path, state = _decode_path(schema, [f for f in frames if f.f_code.co_filename == mod.__file__])
    if root:
        path = f"{root}.{path}" if path else root
    return ExiDecodeError(reason, offset, state, path)


def _decode_path(schema: str, frames: list) -> tuple[str, str]:
    try:
        types = _meta(schema)["types"]
        parts: list[str] = []
        state = ""
        for f in frames:
            loc = f.f_locals
            name = f.f_code.co_name
            if name == "decode_document":
                if "name" in loc:
                    parts.append(loc["name"])
                continue
            if not name.startswith("d_") or name.startswith("d_simple"):
                continue
            key = name[2:]
            t = types.get(key)
            st, c = loc.get("st"), loc.get("c")
            if t is None or st is None:
                continue
            state = f"{t['label']} state {st}"
            if c is not None and st < len(t["states"]):
                for p in t["states"][st][1]:
                    if p[2] == c and p[1] and p[0] in ("SE", "AT"):
                        parts.append(p[1])
        return ".".join(parts), state
    except Exception:  # noqa: BLE001 - error reporting must not mask the original error
        return "", ""


def _encode_error(exc: Exception, schema: str, mod: ModuleType, root: str) -> ExiEncodeError:
    frames = [f for f in _frames(exc) if f.f_code.co_filename == mod.__file__]
    parts = [str(root)]
    last_field = None
    last = None
    for f in frames:
        loc = f.f_locals
        name = f.f_code.co_name
        if name.startswith("e_") and not name.startswith("e_simple"):
            fld = loc.get("f")
            last = (name[2:], loc.get("st"), fld)
            last_field = fld
            if fld is not None:
                parts.append(str(fld))
                i = loc.get("i")
                if isinstance(i, int) and i >= 0:
                    parts[-1] += f"[{i}]"
        elif name.startswith("h_"):
            i = loc.get("i")
            if isinstance(i, int) and i >= 0:
                parts[-1] += f"[{i}]"
    path = ".".join(parts)
    if isinstance(exc, _runtime.Invalid):
        return ExiEncodeError(path, str(exc))
    if isinstance(exc, KeyError) and last_field is not None and exc.args == (last_field,):
        return ExiEncodeError(path, "missing required element")  # a required key subscripted (tables have int keys)
    if isinstance(exc, KeyError) and last is not None:
        expected = _expected(schema, last[0], last[1])
        if last_field is None:
            return ExiEncodeError(path, f"missing required element; expected one of: {expected}")
        return ExiEncodeError(
            path, f"element not allowed at this position (too many occurrences or a conflicting choice); "
            f"expected one of: {expected}"
        )
    if isinstance(exc, RecursionError):
        return ExiEncodeError(path, "nesting too deep")
    return ExiEncodeError(path, f"cannot encode value ({type(exc).__name__}: {exc})")


def _expected(schema: str, key: str, st: object) -> str:
    try:
        t = _meta(schema)["types"][key]
        prods = t["states"][st][1]  # type: ignore[index]
        return ", ".join("end of element" if p[0] == "EE" else (p[1] or p[0]) for p in prods)
    except Exception:  # noqa: BLE001
        return "?"
