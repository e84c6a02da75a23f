"""Slow, obviously-correct EXI decoder/encoder driven directly by the grammar objects.

Used by the generator's self-check and by the tests as an independent oracle for the generated fast codecs:
it walks the same grammar states one event at a time with a plain bit reader, no specialisation.
"""

from __future__ import annotations

from .grammar import Datatype, GrammarBuilder, TypeGrammar, code_width, free_order


class RefError(Exception):
    pass


class BitReader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def bits(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise RefError(f"end of stream at bit {self.pos}")
            v = (v << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def uint(self) -> int:
        v = 0
        shift = 0
        while True:
            b = self.bits(8)
            v |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return v


class BitWriter:
    def __init__(self) -> None:
        self.bitlist: list[int] = []

    def bits(self, n: int, v: int) -> None:
        for i in range(n - 1, -1, -1):
            self.bitlist.append((v >> i) & 1)

    def uint(self, v: int) -> None:
        while True:
            b = v & 0x7F
            v >>= 7
            self.bits(8, b | (0x80 if v else 0))
            if not v:
                return

    def getvalue(self) -> bytes:
        b = self.bitlist + [0] * (-len(self.bitlist) % 8)
        return bytes(int("".join(map(str, b[i : i + 8])), 2) for i in range(0, len(b), 8))


def read_value(r: BitReader, dt: Datatype) -> object:
    k = dt.kind
    if k == "bool":
        return r.bits(1) == 1
    if k == "nbit":
        return r.bits(dt.nbits) + dt.offset
    if k == "uint":
        return r.uint()
    if k == "int":
        neg = r.bits(1)
        u = r.uint()
        return -(u + 1) if neg else u
    if k == "enum":
        i = r.bits(dt.nbits)
        if i >= len(dt.values):
            raise RefError("enum index out of range")
        return dt.values[i]
    if k in ("hex", "b64"):
        n = r.uint()
        return bytes(r.bits(8) for _ in range(n)).hex()
    if k == "string":
        n = r.uint()
        if n < 2:
            raise RefError("string table hit")
        return "".join(chr(r.uint()) for _ in range(n - 2))
    if k == "list":
        n = r.uint()
        assert dt.item is not None
        return [read_value(r, dt.item) for _ in range(n)]
    raise RefError(f"datatype {k} not supported by reference codec")


def write_value(w: BitWriter, dt: Datatype, v: object) -> None:
    k = dt.kind
    if k == "bool":
        w.bits(1, 1 if v else 0)
    elif k == "nbit":
        w.bits(dt.nbits, int(v) - dt.offset)  # type: ignore[call-overload]
    elif k == "uint":
        w.uint(int(v))  # type: ignore[call-overload]
    elif k == "int":
        iv = int(v)  # type: ignore[call-overload]
        w.bits(1, 1 if iv < 0 else 0)
        w.uint(-iv - 1 if iv < 0 else iv)
    elif k == "enum":
        w.bits(dt.nbits, dt.values.index(v))
    elif k in ("hex", "b64"):
        b = bytes.fromhex(v)  # type: ignore[arg-type]
        w.uint(len(b))
        for x in b:
            w.bits(8, x)
    elif k == "string":
        s = str(v)
        w.uint(len(s) + 2)
        for ch in s:
            w.uint(ord(ch))
    elif k == "list":
        assert dt.item is not None
        w.uint(len(v))  # type: ignore[arg-type]
        for x in v:  # type: ignore[union-attr]
            write_value(w, dt.item, x)
    else:
        raise RefError(f"datatype {k} not supported by reference codec")


class ReferenceCodec:
    def __init__(self, builder: GrammarBuilder) -> None:
        self.b = builder
        self.doc = builder.document_elements()
        self.doc_width = code_width(len(self.doc) + 1)

    def _g(self, decl) -> TypeGrammar:  # type: ignore[no-untyped-def]
        return self.b.grammar_for(decl.type, decl.qname[1])

    def decode(self, data: bytes) -> dict:
        r = BitReader(data)
        if r.bits(8) != 0x80:
            raise RefError("header")
        c = r.bits(self.doc_width)
        if c >= len(self.doc):
            raise RefError("SE(*) at document level")
        e = self.doc[c]
        return {e.qname[1]: self._element(r, self._g(e))}

    def _element(self, r: BitReader, g: TypeGrammar) -> object:
        out: dict = {}
        st = 0
        value: object = None
        while True:
            state = g.states[st]
            c = r.bits(state.width)
            if c >= len(state.productions):
                raise RefError(f"second-level event in {g.label} state {st} at bit {r.pos}")
            p = state.productions[c]
            if p.kind == "EE":
                break
            if p.kind == "AT":
                assert p.dt is not None
                out[p.name] = read_value(r, p.dt)
            elif p.kind == "CH":
                assert p.dt is not None
                value = read_value(r, p.dt)
            elif p.kind == "SE":
                v = self._element(r, self._g(p.element))
                if p.name in g.list_fields:
                    out.setdefault(p.name, []).append(v)
                else:
                    out[p.name] = v
            else:
                raise RefError(f"{p.kind} not supported")
            st = p.target
        if g.simple is not None:
            if not g.attributes and not isinstance(g.type, type(None)) and g.type.__class__.__name__ == "SimpleType":
                return value
            out["value"] = value
        return out

    def encode(self, msg: dict) -> bytes:
        w = BitWriter()
        w.bits(8, 0x80)
        (name, body), = msg.items()
        idx = [e.qname[1] for e in self.doc].index(name)
        w.bits(self.doc_width, idx)
        self._enc(w, self._g(self.doc[idx]), body)
        return w.getvalue()

    def _enc(self, w: BitWriter, g: TypeGrammar, v: object) -> None:
        is_simple_type = g.type.__class__.__name__ == "SimpleType"
        events: list = []
        if is_simple_type:
            events = [("CH", "", v)]
        else:
            assert isinstance(v, dict)
            names = list(g.fields)
            if free_order([st.productions for st in g.states]):  # dict order, attributes first
                attrs = [a[0] for a in g.attributes]
                names = [f for f in attrs if f in v] + [f for f in v if f not in attrs and f != "value"]
            for f in names:
                if f in v:
                    vals = v[f] if f in g.list_fields else [v[f]]
                    events += [("N", f, x) for x in vals]
            if g.simple is not None:
                events.append(("CH", "", v["value"]))
        st = 0
        for kind, name, val in events:
            state = g.states[st]
            for p in state.productions:
                if (kind == "CH" and p.kind == "CH") or (kind == "N" and p.kind in ("AT", "SE") and p.name == name):
                    break
            else:
                raise RefError(f"{g.label}: {name or 'CH'} not allowed in state {st}")
            w.bits(state.width, p.code)
            if p.kind in ("AT", "CH"):
                write_value(w, p.dt, val)  # type: ignore[arg-type]
            else:
                self._enc(w, self._g(p.element), val)
            st = p.target
        ee = g.states[st].ee()
        if ee is None:
            raise RefError(f"{g.label}: content incomplete in state {st}")
        w.bits(g.states[st].width, ee.code)
