"""The slow path of the EXI codec: a grammar interpreter for what the generated fast path leaves out.

The generated modules only speak first-level (declared) events, which is all V2G peers send. Non-strict EXI
also allows, at the second level of every element grammar (EXI 1.0 section 8.5.4.4.1): an early EE, AT(xsi:type)
switching to another type's grammar, AT(xsi:nil) switching to the empty grammar, undeclared attributes AT(*),
undeclared elements SE(*) and untyped character data CH; and the xmldsig types declare wildcards (xs:any) and
mixed content. This module walks the plain-data grammars of ``<schema>_meta`` (the same grammars the fast path
was generated from) event by event, with the string table EXI needs for the qualified names those events carry.
`stack.exi.decode` falls back to it when the fast path meets an undeclared event; `stack.exi.encode` when the
message uses one of the keys below. Everything is checked against EXIficient (tests/exi/test_undeclared.py).

Dict form (in addition to the one documented in `stack.exi`):

- ``"xsi:type": "{uri}local"`` (Clark notation; on encode a bare local name that names exactly one type of
  the schema set is accepted) comes first in the element's dict; the content then follows that type;
- ``"xsi:nil": True``: the element is nil (only attributes may follow); ``False`` is written as such (EXIficient
  drops xsi:nil="false" from XML input, so its output for the same document lacks it);
- an element that is not a declared child (wildcard content or undeclared) is keyed ``"{uri}local"``; its value
  follows the global element of that name if the schema has one, else the untyped (ur-type) grammar: a string
  for text-only content, else a dict;
- an undeclared attribute is keyed ``"@{uri}local"`` (``"@{}local"`` without namespace), a string;
- character data in mixed, untyped or wildcard content is ``"#text"``; a simple value that does not fit its
  type (sent as untyped CH) decodes as its string;
- when names interleave (text between elements, a name repeating after another), a dict would lose the
  order: the element is then ``{"#ordered": [[name, value], ...]}`` in document order, attributes included.

Encoding refuses what is not schema-valid even though EXIficient writes it with second-level events (a required
element left out, which it ends early with EE; a value outside its type, which it sends as untyped characters):
those decode, so a capture can be read, but a message built here must fit its types.

Simple values of an element that carries xsi:* keys or undeclared attributes go under ``"value"``.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from dataclasses import dataclass, field
from functools import cache

from . import _runtime as rt

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSI_TYPE, XSI_NIL = f"{{{XSI}}}type", f"{{{XSI}}}nil"
UR = "__ur_type__"  # the complex ur-type grammar (EXI 1.0 8.5.4.1.3.3) used for unknown elements
_UR_STATES = (
    (3, (("AT*", "", 0, 0, None, ""), ("SE*", "", 1, 1, None, ""), ("EE", "", 2, -1, None, ""),
         ("CH*", "", 3, 1, None, "")), 0, ""),
    (2, (("SE*", "", 0, 1, None, ""), ("EE", "", 1, -1, None, ""), ("CH*", "", 2, 1, None, "")), 0, ""),
)
# An element the schema does not declare gets the built-in element grammar (EXI 1.0 8.4.3) without learned
# productions (maximumNumberOfBuiltInProductions = 0): nothing at the first level of its start tag, EE at the
# first level of its content; everything else at the second level.
BUILTIN = "__builtin__"
_BUILTIN_STATES = ((0, (), 0, ""), (1, (("EE", "", 0, -1, None, ""),), 0, ""))
_BUILTIN_SECOND = (("EE", "AT*", "SE*", "CH"), ("SE*", "CH"))
XS_ANYTYPE = "{http://www.w3.org/2001/XMLSchema}anyType"
MAX_DEPTH = 64


class Problem(Exception):
    """Internal: why a stream or a message cannot be handled (turned into the public errors by the caller)."""

    def __init__(self, reason: str, path: str = "", state: str = "") -> None:
        super().__init__(reason)
        self.reason, self.path, self.state = reason, path, state


def _width(n: int) -> int:
    return 0 if n <= 1 else (n - 1).bit_length()


# ------------------------------------------------------------------------------------------ grammar tables
@dataclass
class Grammars:
    schema: str
    types: dict
    type_names: dict  # Clark name -> key
    globals: dict  # Clark name of global element -> type key
    roots: tuple  # (local, uri, key) in document order
    string_table: tuple
    by_local: dict = field(default_factory=dict)  # local type name -> [Clark names]
    start_tags: dict = field(default_factory=dict)  # type key -> states reachable from 0 by attributes only

    def type(self, key: str) -> dict:
        if key == UR:
            return {"label": "anyType", "states": _UR_STATES, "lists": (), "simple": None, "attributes": ()}
        if key == BUILTIN:
            return {"label": "built-in", "states": _BUILTIN_STATES, "lists": (), "simple": None, "attributes": ()}
        return self.types[key]  # type: ignore[no-any-return]

    def start_tag_states(self, key: str) -> frozenset:
        got = self.start_tags.get(key)
        if got is None:
            states = self.type(key)["states"]
            seen = {0}
            todo = [0]
            while todo:
                for p in states[todo.pop()][1]:
                    if p[0] in ("AT", "AT*") and p[3] >= 0 and p[3] not in seen:
                        seen.add(p[3])
                        todo.append(p[3])
            got = self.start_tags[key] = frozenset(seen)
        return got


@cache
def grammars(schema: str) -> Grammars:
    meta = importlib.import_module(f"stack.exi._grammars.{schema}_meta").META
    g = Grammars(
        schema, meta["types"], meta["type_names"], {f"{{{uri}}}{local}": key for local, uri, key in meta["roots"]},
        meta["roots"], meta["string_table"],
    )
    g.type_names = {**g.type_names, XS_ANYTYPE: UR}
    for clark in g.type_names:
        g.by_local.setdefault(clark.rsplit("}", 1)[1], []).append(clark)
    return g


def _split(clark: str) -> tuple[str, str]:
    if not clark.startswith("{") or "}" not in clark:
        raise Problem(f"{clark!r} is not a qualified name in Clark notation '{{uri}}local'")
    uri, local = clark[1:].split("}", 1)
    if not local:
        raise Problem(f"{clark!r} has an empty local name")
    return uri, local


class StringTable:
    """URI and local-name partitions (EXI 1.0 section 7.3); values are never tabled (valuePartitionCapacity 0)."""

    def __init__(self, initial: tuple) -> None:
        self.uris = [u for u, _ in initial]
        self.locals = [list(names) for _, names in initial]
        # undeclared elements met before: EXIficient has created their built-in grammar by then, whose start
        # tag afterwards holds one first-level production (and so a 1-bit code before the escape)
        self.builtin_seen: set[str] = set()


# ------------------------------------------------------------------------------------------------ decoding
class Decoder:
    def __init__(self, schema: str, data: bytes) -> None:
        self.g = grammars(schema)
        self.v = int.from_bytes(data, "big")
        self.total = len(data) * 8
        self.r = self.total - 8  # after the header byte
        self.st = StringTable(self.g.string_table)
        self.path: list[str] = []
        self.where = ""

    # -- bits --------------------------------------------------------------------------------------------
    def bits(self, n: int) -> int:
        if n == 0:
            return 0
        if n > self.r:
            raise Problem("unexpected end of stream (truncated message)")
        self.r -= n
        return (self.v >> self.r) & ((1 << n) - 1)

    def call(self, fn) -> object:  # type: ignore[no-untyped-def]
        try:
            x, self.r = fn(self.v, self.r)
        except ValueError:
            raise Problem("unexpected end of stream (truncated message)") from None
        except rt.Undeclared as exc:
            raise Problem(str(exc)) from None
        if self.r < 0:
            raise Problem("unexpected end of stream (truncated message)")
        return x

    def uint(self) -> int:
        return self.call(rt.u)  # type: ignore[return-value]

    def chars(self, n: int) -> str:
        out = []
        for _ in range(n):
            c = self.uint()
            if c > 0x10FFFF:
                raise Problem(f"code point {c:#x} out of range")
            out.append(chr(c))
        return "".join(out)

    def string(self) -> str:
        n = self.uint()
        if n < 2:
            raise Problem("string table hit, but V2G uses valuePartitionCapacity=0 (no value table)")
        if n - 2 > self.r:
            raise Problem(f"string length {n - 2} exceeds the remaining data")
        return self.chars(n - 2)

    def qname(self) -> str:
        st = self.st
        i = self.bits(_width(len(st.uris) + 1))
        if i == 0:
            uri = self._uri_literal(self.uint())
            st.uris.append(uri)
            st.locals.append([])
            ui = len(st.uris) - 1
        else:
            ui = i - 1
            if ui >= len(st.uris):
                raise Problem(f"URI compact id {ui} beyond the {len(st.uris)} known")
        names = st.locals[ui]
        n = self.uint()
        if n == 0:
            k = self.bits(_width(len(names)))
            if k >= len(names):
                raise Problem(f"local-name compact id {k} beyond the {len(names)} known for {st.uris[ui]!r}")
            local = names[k]
        else:
            if n - 1 > self.r:
                raise Problem(f"local-name length {n - 1} exceeds the remaining data")
            local = self.chars(n - 1)
            names.append(local)
        return f"{{{st.uris[ui]}}}{local}"

    def _uri_literal(self, n: int) -> str:
        # EXI 7.3.2: a URI miss is followed by the URI as a String (length, characters)
        if n > self.r:
            raise Problem(f"URI length {n} exceeds the remaining data")
        return self.chars(n)

    def value(self, dt: tuple) -> object:
        kind = dt[0]
        if kind == "bool":
            return self.bits(1) == 1
        if kind == "nbit":
            return self.bits(dt[1]) + dt[2]
        if kind == "enum":
            k = self.bits(dt[1])
            if k >= len(dt[5]):
                raise Problem("enumeration value index out of range")
            return dt[5][k]
        if kind == "uint":
            return self.uint()
        if kind == "int":
            return self.call(rt.i)
        if kind == "string":
            return self.string()
        if kind in ("hex", "b64"):
            return self.call(rt.b)
        raise Problem(f"values of type {kind} are not supported by this codec")

    # -- grammar walk ------------------------------------------------------------------------------------
    def document(self) -> dict:
        roots = self.g.roots
        c = self.bits(_width(len(roots) + 1))
        if c < len(roots):
            local, uri, key = roots[c]
            self.path.append(local)
            out = {local: self.element(key)}
        elif c == len(roots):
            name = self.qname()  # DocContent second level: SE(*) only (no DT/CM/PI with default fidelity)
            self.path.append(name)
            out = {name: self.element(self.g.globals.get(name, BUILTIN))}
        else:
            raise Problem(f"event code {c} is not a document element")
        return out

    def element(self, key: str) -> object:
        if len(self.path) > MAX_DEPTH:
            raise Problem("nesting too deep")
        g = self.g
        t = g.type(key)
        out = _Content()
        states = t["states"]
        if key == BUILTIN:
            states = _builtin_states(self.st, self.path[-1])
        s, k = 0, 0
        empty = False  # xsi:nil="true": only attributes and EE are left (TypeEmpty)
        content2 = False  # after undeclared content in a start tag: no attribute events any more
        while True:
            width, prods, run_len, run_name, start_tag, first = _state(g, key, states, s, k, content2, empty)
            self.where = f"{t['label']} state {s}"
            c = self.bits(width)
            if c < len(prods):
                kind, name, _code, target, ref, _uri = prods[c]
                if kind == "EE":
                    return _finish(t, out)
                if kind == "SE":
                    self.path.append(name)
                    out.add(name, self.element(ref), name in t["lists"])
                    self.path.pop()
                elif kind in ("SEW", "SE*"):
                    name = self.qname()
                    self.path.append(name)
                    out.add(name, self.element(g.globals.get(name, BUILTIN)), True if kind == "SEW" else None)
                    self.path.pop()
                elif kind == "AT":
                    out.set(name, self.value(ref))
                elif kind == "AT*":
                    name = self.qname()
                    out.set("@" + name, self.string())
                elif kind == "CH":
                    out.set("value", self.value(ref))
                elif kind in ("CHM", "CH*"):
                    out.add("#text", self.string(), None)
                else:
                    raise Problem(f"production {kind!r} (learned by a built-in grammar) is not supported")
                s, k, content2 = _after(g, key, states, (s, k, content2, start_tag), prods[c])
                continue
            if c > len(prods):
                raise Problem(f"event code {c} is outside the {len(prods)} declared production(s)")
            events = _BUILTIN_SECOND[s] if key == BUILTIN else second_level(prods, first, start_tag)
            ev = events[self.bits(_width(len(events)))]
            if ev == "EE":
                return _finish(t, out)
            at = self.qname() if ev == "AT*" else None
            if ev == "xsi:type" or at == XSI_TYPE:
                name = self.qname()
                new = g.type_names.get(name)
                if at is None or name != XS_ANYTYPE:  # the anyType switch EXIficient inserts is implied
                    out.set("xsi:type", name)
                if new is not None:  # an unknown type leaves the grammar as it is
                    key, t, states, s, k = new, g.type(new), g.type(new)["states"], 0, 0
                continue
            if ev == "xsi:nil" or at == XSI_NIL:
                nil = self.bits(1) == 1
                out.set("xsi:nil", nil)
                empty = empty or nil
                continue
            if ev == "AT*":
                out.set("@" + at, self.string())  # type: ignore[operator]
                continue
            if ev == "AT!":
                raise Problem("AT with a schema-invalid value is not supported by this codec")
            if ev == "SE*":
                name = self.qname()
                self.path.append(name)
                out.add(name, self.element(g.globals.get(name, BUILTIN)), None)
                self.path.pop()
            else:  # CH [untyped]
                out.add("#text" if t["simple"] is None else "value", self.string(), None)
            if key == BUILTIN:
                s = 1
            elif start_tag:  # leaves the start tag: the content grammar of this state (attributes done)
                s, content2 = _content_state(states, s, g.start_tag_states(key)), True


def _builtin_states(st: StringTable, name: str) -> tuple:
    if name in st.builtin_seen:
        return ((1, (("?", "", 0, 0, None, ""),), 0, ""), _BUILTIN_STATES[1])
    st.builtin_seen.add(name)
    return _BUILTIN_STATES


def _state(g: Grammars, key: str, states: tuple, s: int, k: int, content2: bool, empty: bool) -> tuple:
    """State `s` as the walk sees it: (width, productions, run length, run element, start tag?, first state?).
    k: items of a run so far; content2: undeclared content has ended the start tag; empty: after xsi:nil."""
    width, prods, run_len, run_name = states[s]
    start_tag = k == 0 and not content2 and s in g.start_tag_states(key)
    first = start_tag and s == 0  # the state AT(xsi:type) and AT(xsi:nil) belong to
    if empty:
        prods = _empty_prods(prods)
        width = _width(len(prods) + 1)
    return width, prods, run_len, run_name, start_tag, first


def _after(g: Grammars, key: str, states: tuple, where: tuple, prod: tuple) -> tuple[int, int, bool]:
    """(state, run count, content2) after the declared production `prod` taken at `where` = (state, run count,
    content2, start tag?)."""
    s, k, content2, start_tag = where
    kind, name, _code, target = prod[:4]
    _w, _prods, run_len, run_name = states[s]
    if run_len and kind == "SE" and name == run_name and k + 1 < run_len:
        return s, k + 1, content2
    if kind == "CHM" and start_tag:  # mixed text ends the start tag (EXI 8.5.4.2 normalisation)
        return _content_state(states, s, g.start_tag_states(key)), 0, content2
    if target < 0:
        raise Problem(f"production {kind} without a target")
    return target, 0, content2 and target == s


def second_level(prods: tuple, first: bool, start_tag: bool) -> tuple:
    """The undeclared productions of a state, in event-code order (EXI 1.0 8.5.4.4.1, as EXIficient numbers
    them): EE unless declared, AT(xsi:type) and AT(xsi:nil) in the first state, AT(*) and AT with an invalid
    value while attributes may still come, SE(*), CH [untyped]."""
    ev: list[str] = []
    if not any(p[0] == "EE" for p in prods):
        ev.append("EE")
    if first:
        ev += ["xsi:type", "xsi:nil"]
    if start_tag:
        ev += ["AT*", "AT!"]
    ev += ["SE*", "CH"]
    return tuple(ev)


def _empty_prods(prods: tuple) -> tuple:
    """TypeEmpty (after xsi:nil="true"): the attribute productions, and EE where the content could start."""
    ats = [p for p in prods if p[0] in ("AT", "AT*")]
    can_end = any(p[0] not in ("AT", "AT*") for p in prods)
    out = [(*p[:2], i, *p[3:]) for i, p in enumerate(ats)]
    if can_end:
        out.append(("EE", "", len(out), -1, None, ""))
    return tuple(out)


def _content_state(states: tuple, s: int, start_tags: frozenset) -> int:
    """After undeclared content in a start-tag state, the grammar continues where declared content would:
    the state the content starts in (skipping the optional attributes)."""
    while True:
        nxt = [p[3] for p in states[s][1] if p[0] in ("AT", "AT*") and p[3] >= 0]
        if not nxt or all(p[0] in ("AT", "AT*") for p in states[s][1]):
            return s
        s = max(nxt)
        if s not in start_tags:
            return s


class _Content:
    """An element's decoded content: the dict, plus the document order for when names interleave."""

    def __init__(self) -> None:
        self.d: dict = {}
        self.seq: list[list] = []
        self.interleaved = False

    def set(self, name: str, x: object) -> None:
        self.d[name] = x
        self.seq.append([name, x])

    def add(self, name: str, x: object, is_list: bool | None) -> None:
        """is_list True: always a list; False/None: a list only once the name repeats."""
        out = self.d
        if name in out:
            self.interleaved = self.interleaved or self.seq[-1][0] != name
            old = out[name]
            if is_list or isinstance(old, list) and is_list is not False:
                old.append(x)
            else:
                out[name] = [old, x]
        else:
            out[name] = [x] if is_list else x
        self.seq.append([name, x])


def _finish(t: dict, c: _Content) -> object:
    if c.interleaved:  # e.g. mixed text between elements: a dict would lose the order
        return {"#ordered": c.seq}
    out = c.d
    if t["simple"] is not None and not t["attributes"] and set(out) <= {"value"}:
        return out.get("value", "")
    if t.get("label") in ("anyType", "built-in") and set(out) <= {"#text"}:
        return out.get("#text", "")
    return out


def decode(schema: str, data: bytes) -> dict:
    d = Decoder(schema, data)
    try:
        out = d.document()
    except Problem as exc:
        exc.path = ".".join(d.path)
        exc.state = d.where
        exc.offset = d.total - d.r  # type: ignore[attr-defined]
        raise
    except RecursionError:
        raise Problem("nesting too deep", ".".join(d.path), d.where) from None
    if d.r >= 8:
        p = Problem(f"{d.r >> 3} trailing byte(s) after the end of the document")
        p.offset = d.total - d.r  # type: ignore[attr-defined]
        raise p
    return out


# ------------------------------------------------------------------------------------------------ encoding
SPECIAL = ("xsi:type", "xsi:nil")


def needs_generic(x: object, depth: int = 0) -> bool:
    """True when a message uses something only this module encodes (xsi:*, Clark-named or "@" keys, #text)."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(x, dict):
        for k, v in x.items():
            if isinstance(k, str) and (k in SPECIAL or k[:1] in ("{", "@") or k in ("#text", "#ordered")):
                return True
            if needs_generic(v, depth + 1):
                return True
    elif isinstance(x, (list, tuple)):
        return any(needs_generic(v, depth + 1) for v in x)
    return False


class Encoder:
    def __init__(self, schema: str) -> None:
        self.g = grammars(schema)
        self.a = 0x80  # header byte; its top bit is the sentinel that keeps leading zero bits countable
        self.st = StringTable(self.g.string_table)
        self.path: list[str] = []

    def bits(self, n: int, x: int) -> None:
        self.a = (self.a << n) | x

    def uint(self, x: int) -> None:
        self.a = rt.wu(self.a, x)

    def chars(self, x: str) -> None:
        for ch in x:
            self.uint(ord(ch))

    def qname(self, clark: str) -> None:
        uri, local = _split(clark)
        st = self.st
        if uri in st.uris:
            ui = st.uris.index(uri)
            self.bits(_width(len(st.uris) + 1), ui + 1)
        else:
            self.bits(_width(len(st.uris) + 1), 0)
            self.uint(len(uri))
            self.chars(uri)
            st.uris.append(uri)
            st.locals.append([])
            ui = len(st.uris) - 1
        names = st.locals[ui]
        if local in names:
            self.uint(0)
            self.bits(_width(len(names)), names.index(local))
        else:
            self.uint(len(local) + 1)
            self.chars(local)
            names.append(local)

    def value(self, dt: tuple, x: object) -> None:
        kind = dt[0]
        try:
            if kind == "bool":
                if not isinstance(x, bool):
                    rt.bad_bool(x)
                self.bits(1, int(x))  # type: ignore[arg-type]
            elif kind == "nbit":
                self.bits(dt[1], rt.as_int(x, dt[3], dt[4]) - dt[2])
            elif kind == "enum":
                if x not in dt[5]:
                    rt.bad_enum(x, dict.fromkeys(dt[5]))
                self.bits(dt[1], dt[5].index(x))
            elif kind == "uint":
                self.a = rt.wu(self.a, rt.as_int(x, dt[3], dt[4]))
            elif kind == "int":
                self.a = rt.wi(self.a, rt.as_int(x, dt[3], dt[4]))
            elif kind == "string":
                self.a = rt.ws(self.a, x)
            elif kind in ("hex", "b64"):
                self.a = rt.wb(self.a, x)
            else:
                raise Problem(f"values of type {kind} are not supported by this codec")
        except rt.Invalid as exc:
            raise Problem(str(exc)) from None

    def document(self, message: dict) -> bytes:
        (name, x), = message.items()
        roots = self.g.roots
        names = [r[0] for r in roots]
        self.path.append(str(name))
        w = _width(len(roots) + 1)
        if name in names:
            i = names.index(name)
            self.bits(w, i)
            self.element(roots[i][2], x)
        elif isinstance(name, str) and name.startswith("{"):
            self.bits(w, len(roots))
            self.qname(name)
            self.element(self.g.globals.get(name, BUILTIN), x)
        else:
            raise Problem(f"{name!r} is not a global element of schema {self.g.schema}")
        return rt.finish(self.a)

    def element(self, key: str, x: object) -> None:
        if len(self.path) > MAX_DEPTH:
            raise Problem("nesting too deep")
        g = self.g
        if key == BUILTIN:  # as EXIficient does under the V2G profile: AT(*) xsi:type="xs:anyType" first
            name = re.sub(r"\[\d+\]$", "", self.path[-1])
            w = _builtin_states(self.st, name)[0][0]
            self.bits(w, 1 if w else 0)  # escape to the second level
            self.bits(2, _BUILTIN_SECOND[0].index("AT*"))
            self.qname(XSI_TYPE)
            self.qname(XS_ANYTYPE)
            key = UR
            if isinstance(x, dict) and x.get("xsi:type") in (XS_ANYTYPE, "anyType"):
                x = {k: v for k, v in x.items() if k != "xsi:type"}
        t = g.type(key)
        states = t["states"]
        ordered = isinstance(x, dict) and "#ordered" in x
        if ordered:
            items = [tuple(item) for item in x["#ordered"]]  # type: ignore[index]
            if len(x) != 1 or any(len(item) != 2 for item in items):  # type: ignore[arg-type]
                raise Problem('"#ordered" must be the only key, a list of [name, value] pairs')
        elif isinstance(x, dict):
            items = list(x.items())
        elif t["simple"] is not None or key == UR:
            items = [("value" if key != UR else "#text", x)]
        else:
            raise Problem(f"expected a mapping (dict) for a complex element, got {type(x).__name__} {x!r:.60}")
        items = [(k, v) for k, v in items if v is not None]
        if not ordered:
            items = self.schema_order(t, items)
        s, k = 0, 0
        empty = False
        content2 = False
        queue: list[tuple[str, object]] = []
        for name, v in items:
            if isinstance(v, (list, tuple)) and name not in ("value",) and not ordered:
                queue += [(name, item) for item in v]
            else:
                queue.append((name, v))
        idx: dict[str, int] = {}
        while True:
            width, prods, run_len, run_name, start_tag, first = _state(g, key, states, s, k, content2, empty)
            if not queue:
                ee = next((p for p in prods if p[0] == "EE"), None)
                if ee is None:
                    expected = ", ".join(p[1] or p[0] for p in prods)
                    raise Problem(f"missing required element; expected one of: {expected}")
                self.bits(width, ee[2])
                return
            name, v = queue[0]
            n = idx.get(name, -1) + 1
            self.path.append(f"{name}[{n}]" if isinstance(x, dict) and isinstance(x.get(name), list) else str(name))
            special = first and name in SPECIAL
            if special:
                queue.pop(0)
                events = second_level(prods, first, start_tag)
                if name == "xsi:nil":
                    if not isinstance(v, bool):
                        raise Problem(f"expected a bool, got {type(v).__name__} {v!r}")
                    self.bits(width, len(prods))
                    self.bits(_width(len(events)), events.index("xsi:nil"))
                    self.bits(1, int(v))
                    empty = v
                else:
                    clark = self.type_name(v)
                    self.bits(width, len(prods))
                    self.bits(_width(len(events)), events.index("xsi:type"))
                    self.qname(clark)
                    if clark in g.type_names:  # an unknown (foreign) type leaves the grammar as it is
                        key = g.type_names[clark]
                        t, states, s, k = g.type(key), g.type(key)["states"], 0, 0
                self.path.pop()
                continue
            prod = self.choose(prods, name, v)
            if prod is not None:
                queue.pop(0)
                idx[name] = n
                self.bits(width, prod[2])
                self.content(prod[0], name, prod[4], v)
                self.path.pop()
                s, k, content2 = _after(g, key, states, (s, k, content2, start_tag), prod)
                continue
            # undeclared: only for names that say so (Clark, "@", "#text"); a bare unknown name is a mistake
            events = second_level(prods, first, start_tag)
            if isinstance(name, str) and name.startswith("{"):
                ev = "SE*"
            elif isinstance(name, str) and name.startswith("@{") and "AT*" in events:
                ev = "AT*"
            elif name == "#text" or (name == "value" and t["simple"] is not None):
                ev = "CH"
            else:
                expected = ", ".join(p[1] or p[0] for p in prods)
                raise Problem(f"element not allowed at this position (unknown key, too many occurrences or a "
                              f"conflicting choice); expected one of: {expected}")
            queue.pop(0)
            idx[name] = n
            self.bits(width, len(prods))
            self.bits(_width(len(events)), events.index(ev))
            self.content("CH*" if ev == "CH" else ev, name, None, v)  # second-level CH is untyped
            self.path.pop()
            if start_tag and ev != "AT*":
                s, content2 = _content_state(states, s, g.start_tag_states(key)), True

    def content(self, kind: str, name: str, ref: object, v: object) -> None:
        """What follows the event code of a production of `kind` (declared or undeclared) for item (name, v)."""
        if kind == "SE":
            self.element(ref, v)  # type: ignore[arg-type]
        elif kind in ("SEW", "SE*"):
            self.qname(name)
            self.element(self.g.globals.get(name, BUILTIN), v)
        elif kind in ("AT", "CH"):
            self.value(ref, v)  # type: ignore[arg-type]
        elif kind == "AT*":
            self.qname(name[1:])
            self.a = rt.ws(self.a, v)
        else:  # CHM, CH*: untyped text
            self.a = rt.ws(self.a, v)

    def schema_order(self, t: dict, items: list) -> list:
        """Declared fields in schema order (dicts may come in any order, as on the fast path); xsi:* first;
        undeclared items stay right after the declared item they followed."""
        typ = dict(items).get("xsi:type")
        if isinstance(typ, str):
            with contextlib.suppress(Problem, KeyError):
                t = self.g.type(self.g.type_names[self.type_name(typ)])
        # a repeated choice (xmldsig KeyInfo) keeps the dict's order, the order a decoder saw
        rank = {} if t.get("free_order") else {name: i for i, name in enumerate(t.get("fields", ()))}
        keyed = []
        anchor = -1
        for pos, (name, v) in enumerate(items):
            if name in SPECIAL:
                keyed.append(((-2, SPECIAL.index(name), pos), (name, v)))
            elif name in rank or (name == "value" and t["simple"] is not None):
                anchor = rank.get(name, len(rank))
                keyed.append(((anchor, 0, pos), (name, v)))
            else:
                keyed.append(((anchor, 1, pos), (name, v)))
        keyed.sort(key=lambda x: x[0])
        return [item for _, item in keyed]

    @staticmethod
    def choose(prods: tuple, name: object, v: object) -> tuple | None:
        for p in prods:
            kind = p[0]
            if kind in ("SE", "AT") and p[1] == name:
                return p
            if kind == "CH" and name == "value":
                return p
            if kind == "CHM" and name == "#text":
                return p
            if kind == "SEW" and isinstance(name, str) and name.startswith("{") and _wild_ok(p[1], name):
                return p
            if kind == "SE*" and isinstance(name, str) and name.startswith("{"):
                return p
            if kind == "AT*" and isinstance(name, str) and name.startswith("@{"):
                return p
            if kind == "CH*" and name == "#text":
                return p
        return None

    def type_name(self, v: object) -> str:
        if not isinstance(v, str):
            raise Problem(f"xsi:type must be a type name, got {type(v).__name__} {v!r}")
        if v.startswith("{"):
            _split(v)
            return v
        found = self.g.by_local.get(v, [])
        if len(found) != 1:
            raise Problem(f"xsi:type {v!r} is {'ambiguous: ' + ', '.join(found) if found else 'not a type'} "
                          f"of schema {self.g.schema!r}; give it as '{{uri}}local'")
        return found[0]


def _wild_ok(pattern: str, clark: str) -> bool:
    if pattern == "*":
        return True
    return clark.startswith(pattern[:-1])  # "{uri}*" -> "{uri}"


def encode(schema: str, message: dict) -> bytes:
    e = Encoder(schema)
    try:
        return e.document(message)
    except Problem as exc:
        exc.path = ".".join(e.path)
        raise
    except RecursionError:
        raise Problem("nesting too deep", ".".join(e.path)) from None
