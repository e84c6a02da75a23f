"""EXI 1.0 schema-informed grammars for a schema set (the part of the EXI spec V2G needs).

Method: for every type we build the regular language of its events (sorted attribute uses followed by the
content model; occurrence bounds kept as counters, never unrolled) and derive a deterministic automaton with
Brzozowski derivatives. A state's first-level productions are the symbols with a non-empty derivative plus EE
when the remaining language accepts the empty word, sorted by the EXI event-code assignment rules (EXI 1.0
section 8.5.4.3): AT(qname) by local-name then URI, then SE(qname) in schema order (first appearance of the
particle in the content model, substitution-group members sorted by local-name then URI), SE(uri:*), SE(*), EE,
CH. Because the codes only depend on which events may follow (a property of the language), this gives the same
event codes as the normalised grammars of the spec and as EXIficient (Xerces DFA + occurrence counters).

Non-strict mode (what V2G uses) adds undeclared second-level productions to every element state, so every
first-level code is ceil(log2(n + 1)) bits wide; the generated codecs emit only first-level events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from .xsd import (
    _BUILTIN_RANGE,
    ComplexType,
    ElementDecl,
    ModelGroup,
    Particle,
    QName,
    SchemaSet,
    SimpleType,
    Wildcard,
    XsdError,
)

MAX_NBIT_RANGE = 4096  # EXI 1.0 7.1.5: bounded ranges up to 4096 values use n-bit unsigned integers


def code_width(n: int) -> int:
    """Bits needed to encode one of n values (0 for n <= 1)."""
    return 0 if n <= 1 else (n - 1).bit_length()


# ---------------------------------------------------------------------------------------------------------
# Datatypes (EXI 1.0 section 7.1 built-in EXI datatype representations)
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Datatype:
    """How a simple value is represented. kind: bool, nbit, uint, int, enum, string, hex, b64, list, decimal."""

    kind: str
    nbits: int = 0
    offset: int = 0  # nbit: encoded = value - offset
    maximum: int | None = None  # nbit/uint/int bounds for encoder checks
    minimum: int | None = None
    values: tuple = ()  # enum values
    enum_base: str = ""  # enum: kind of the underlying values ('string', 'int', ...)
    item: Datatype | None = None  # list item
    min_length: int | None = None
    max_length: int | None = None
    type_name: str = ""  # for messages


def _int_bounds(st: SimpleType) -> tuple[int | None, int | None]:
    lo: int | None = None
    hi: int | None = None
    for name in st.primitive_chain():
        if name in _BUILTIN_RANGE:
            blo, bhi = _BUILTIN_RANGE[name]
            lo = blo if lo is None or (blo is not None and blo > lo) else lo
            hi = bhi if hi is None or (bhi is not None and bhi < hi) else hi
            break
    t: SimpleType | None = st
    while t is not None:  # facets anywhere on the chain narrow the range
        for v in t.facets.get("minInclusive", []):
            lo = int(v) if lo is None else max(lo, int(v))
        for v in t.facets.get("minExclusive", []):
            lo = int(v) + 1 if lo is None else max(lo, int(v) + 1)
        for v in t.facets.get("maxInclusive", []):
            hi = int(v) if hi is None else min(hi, int(v))
        for v in t.facets.get("maxExclusive", []):
            hi = int(v) - 1 if hi is None else min(hi, int(v) - 1)
        t = t.base
    return lo, hi


def _lengths(st: SimpleType) -> tuple[int | None, int | None]:
    ln = st.facet("length")
    if ln:
        return int(ln[0]), int(ln[0])
    mn = st.facet("minLength")
    mx = st.facet("maxLength")
    return (int(mn[0]) if mn else None), (int(mx[0]) if mx else None)


def datatype_of(st: SimpleType) -> Datatype:
    name = st.name[1] if st.name else ""
    chain = st.primitive_chain()
    if st.variety == "union":
        return Datatype("string", type_name=name)
    if st.variety == "list":
        assert st.item is not None
        return Datatype("list", item=datatype_of(st.item), type_name=name)
    if st.facet("pattern") and "boolean" not in chain and ("string" in chain or "anyURI" in chain):
        # EXI restricted character sets derive from patterns; the V2G schemas have none, so do not guess
        raise XsdError(f"pattern facet on string type {name}: restricted character sets not implemented")
    enum = st.facet("enumeration")
    if enum is not None and "QName" not in chain and "NOTATION" not in chain:
        # most derived enumeration facet wins; base representation decides the value type
        base = st.base
        while base is not None and base.facet("enumeration") is not None:
            base = base.base
        base_dt = datatype_of(base) if base is not None else Datatype("string")
        if base_dt.kind in ("nbit", "uint", "int"):
            vals: tuple = tuple(int(v) for v in enum)
        elif base_dt.kind == "bool":
            vals = tuple(v in ("true", "1") for v in enum)
        elif base_dt.kind == "string":
            vals = tuple(enum)
        else:
            raise XsdError(f"enumeration over {base_dt.kind} in {name} not supported")
        return Datatype("enum", nbits=code_width(len(vals)), values=vals, enum_base=base_dt.kind, type_name=name)
    if "boolean" in chain:
        if st.facet("pattern"):
            raise XsdError(f"boolean with pattern ({name}) not supported")
        return Datatype("bool", type_name=name)
    if "hexBinary" in chain or "base64Binary" in chain:
        lo, hi = _lengths(st)
        return Datatype("hex" if "hexBinary" in chain else "b64", min_length=lo, max_length=hi, type_name=name)
    if "integer" in chain:
        lo, hi = _int_bounds(st)
        if lo is not None and hi is not None and hi - lo + 1 <= MAX_NBIT_RANGE:
            return Datatype("nbit", nbits=code_width(hi - lo + 1), offset=lo, minimum=lo, maximum=hi, type_name=name)
        if lo is not None and lo >= 0:
            return Datatype("uint", minimum=lo, maximum=hi, type_name=name)
        return Datatype("int", minimum=lo, maximum=hi, type_name=name)
    if "decimal" in chain:
        return Datatype("decimal", type_name=name)
    if "float" in chain or "double" in chain:
        return Datatype("float", type_name=name)
    if any(t in chain for t in ("dateTime", "time", "date", "gYearMonth", "gYear", "gMonthDay", "gDay", "gMonth")):
        return Datatype("datetime", type_name=name)
    if "duration" in chain or "string" in chain or "anyURI" in chain or "anySimpleType" in chain:
        lo, hi = _lengths(st)
        return Datatype("string", min_length=lo, max_length=hi, type_name=name)
    raise XsdError(f"no EXI datatype for {name} ({chain})")


# ---------------------------------------------------------------------------------------------------------
# Regular expressions over event symbols, with counted repetition, and their derivatives
# ---------------------------------------------------------------------------------------------------------
# Representation (hashable tuples): ("e",) empty word, ("0",) empty language, ("s", sym), ("seq", (r, ...)),
# ("alt", frozenset), ("rep", r, min, max|None)
EPS = ("e",)
NONE = ("0",)


def sym(s: tuple) -> tuple:
    return ("s", s)


def seq(*parts: tuple) -> tuple:
    flat: list[tuple] = []
    for p in parts:
        if p == NONE:
            return NONE
        if p == EPS:
            continue
        if p[0] == "seq":
            flat.extend(p[1])
        else:
            flat.append(p)
    if not flat:
        return EPS
    if len(flat) == 1:
        return flat[0]
    return ("seq", tuple(flat))


def alt(*parts: tuple) -> tuple:
    items: set[tuple] = set()
    for p in parts:
        if p == NONE:
            continue
        if p[0] == "alt":
            items.update(p[1])
        else:
            items.add(p)
    if not items:
        return NONE
    if len(items) == 1:
        return next(iter(items))
    return ("alt", frozenset(items))


def rep(r: tuple, mn: int, mx: int | None) -> tuple:
    if mx == 0 or r == EPS:
        return EPS
    if r == NONE:
        return EPS if mn == 0 else NONE
    if mn == 1 and mx == 1:
        return r
    if nullable(r):
        mn = 0
    if mn == 0 and mx == 1:
        return alt(r, EPS)
    return ("rep", r, mn, mx)


@cache
def nullable(r: tuple) -> bool:
    k = r[0]
    if k == "e":
        return True
    if k in ("0", "s"):
        return False
    if k == "seq":
        return all(nullable(p) for p in r[1])
    if k == "alt":
        return any(nullable(p) for p in r[1])
    return r[2] == 0 or nullable(r[1])


@cache
def first(r: tuple) -> frozenset:
    k = r[0]
    if k in ("e", "0"):
        return frozenset()
    if k == "s":
        return frozenset([r[1]])
    if k == "seq":
        out: set = set()
        for p in r[1]:
            out |= first(p)
            if not nullable(p):
                break
        return frozenset(out)
    if k == "alt":
        out = set()
        for p in r[1]:
            out |= first(p)
        return frozenset(out)
    return first(r[1])


@cache
def deriv(r: tuple, a: tuple) -> tuple:
    k = r[0]
    if k in ("e", "0"):
        return NONE
    if k == "s":
        return EPS if r[1] == a else NONE
    if k == "seq":
        head, rest = r[1][0], seq(*r[1][1:])
        d = seq(deriv(head, a), rest)
        if nullable(head):
            d = alt(d, deriv(rest, a))
        return d
    if k == "alt":
        return alt(*(deriv(p, a) for p in r[1]))
    inner, mn, mx = r[1], r[2], r[3]
    return seq(deriv(inner, a), rep(inner, max(mn - 1, 0), None if mx is None else mx - 1))


# ---------------------------------------------------------------------------------------------------------
# Grammar model handed to the code generator
# ---------------------------------------------------------------------------------------------------------
@dataclass
class Production:
    """One first-level production: `kind` AT | SE | SEW (wildcard) | EE | CH | CHM (mixed text)."""

    kind: str
    code: int
    target: int  # next state within the same type grammar (-1 for EE)
    name: str = ""  # dict key (local name) for AT/SE
    qname: QName | None = None
    element: ElementDecl | None = None  # SE: the declaration whose type gives the child grammar
    dt: Datatype | None = None  # AT / CH: value representation


@dataclass
class State:
    productions: list[Production]
    width: int

    def by_name(self) -> dict[str, Production]:
        return {p.name: p for p in self.productions if p.kind in ("AT", "SE")}

    def ee(self) -> Production | None:
        for p in self.productions:
            if p.kind == "EE":
                return p
        return None


@dataclass
class TypeGrammar:
    key: str  # unique identifier (python-safe)
    label: str  # human readable (type name or anonymous element path)
    type: ComplexType | SimpleType
    states: list[State]
    simple: Datatype | None = None  # simple type or simple content value
    attributes: list[tuple[str, QName, Datatype, bool]] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)  # dict keys in schema order (attributes first)
    list_fields: set[str] = field(default_factory=set)  # keys that may occur more than once
    field_elements: dict[str, list[ElementDecl]] = field(default_factory=dict)
    mixed: bool = False


class GrammarError(Exception):
    pass


def _max_count(p: Particle, counts: dict[QName, float], mult: float, subst) -> None:
    """Accumulate the maximum number of occurrences per element qname (inf for unbounded)."""
    m = mult * (float("inf") if p.max is None else p.max)
    t = p.term
    if isinstance(t, ElementDecl):
        for e in subst(t):
            counts[e.qname] = counts.get(e.qname, 0) + m
    elif isinstance(t, ModelGroup):
        if t.kind == "choice":
            merged: dict[QName, float] = {}
            for c in t.particles:
                d: dict[QName, float] = {}
                _max_count(c, d, 1, subst)
                for k, v in d.items():
                    merged[k] = max(merged.get(k, 0), v)
            for k, v in merged.items():
                counts[k] = counts.get(k, 0) + v * m
        else:
            for c in t.particles:
                _max_count(c, counts, m, subst)


class GrammarBuilder:
    """Derives all type grammars reachable from the global elements of a schema set."""

    def __init__(self, schemas: SchemaSet, include_abstract_head: bool = True) -> None:
        self.schemas = schemas
        self.include_abstract_head = include_abstract_head
        self.grammars: dict[int, TypeGrammar] = {}
        self._keys: set[str] = set()
        self._subst_cache: dict[int, list[ElementDecl]] = {}

    # -- substitution groups -----------------------------------------------------------------------------
    def substitutes(self, decl: ElementDecl) -> list[ElementDecl]:
        """Element declarations an element particle stands for, sorted by local-name then URI."""
        if id(decl) not in self._subst_cache:
            out = [decl] if decl.is_global else [decl]
            if decl.is_global:
                out += self.schemas.substitution_members(decl)
            out = [e for e in out if not e.abstract or (e is decl and self.include_abstract_head)]
            out.sort(key=lambda e: (e.qname[1], e.qname[0]))
            self._subst_cache[id(decl)] = out
        return self._subst_cache[id(decl)]

    # -- entry points ------------------------------------------------------------------------------------
    def document_elements(self) -> list[ElementDecl]:
        """Global elements in DocContent order (EXI 8.5.1: sorted by local-name, then URI)."""
        return sorted(self.schemas.global_elements(), key=lambda e: (e.qname[1], e.qname[0]))

    def grammar_for(self, t: ComplexType | SimpleType, label: str) -> TypeGrammar:
        if id(t) in self.grammars:
            return self.grammars[id(t)]
        key = self._make_key(t, label)
        g = TypeGrammar(key=key, label=t.name[1] if t.name else label, type=t, states=[])
        self.grammars[id(t)] = g  # before building: recursive types refer to it
        self._build(g)
        return g

    def build_all(self) -> None:
        self.build_reachable([(e.type, e.qname[1]) for e in self.document_elements()])

    def build_reachable(self, pending: list[tuple]) -> None:
        """Build the grammars of the (type, label) pairs in `pending` and of every type their elements use."""
        while pending:
            t, label = pending.pop()
            if id(t) in self.grammars:
                continue
            g = self.grammar_for(t, label)
            for st in g.states:
                for p in st.productions:
                    if p.kind == "SE" and p.element is not None:
                        pending.append((p.element.type, f"{g.label}.{p.name}"))

    def _make_key(self, t: ComplexType | SimpleType, label: str) -> str:
        base = t.name[1] if t.name else "anon_" + label.replace(".", "_")
        key = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in base)
        n = 2
        cand = key
        while cand in self._keys:
            cand = f"{key}_{n}"
            n += 1
        self._keys.add(cand)
        return cand

    # -- construction ------------------------------------------------------------------------------------
    def _build(self, g: TypeGrammar) -> None:
        t = g.type
        order: dict[tuple, int] = {}  # symbol -> schema order index (first occurrence)
        info: dict[tuple, object] = {}  # symbol -> decl / wildcard / datatype

        if isinstance(t, SimpleType):
            dt = datatype_of(t)
            g.simple = dt
            content = sym(("CH",))
            info[("CH",)] = dt
            attrs: list = []
        else:
            if t.has_attribute_wildcard:
                raise GrammarError(f"{g.label}: attribute wildcards not supported")
            attrs = sorted(t.attributes, key=lambda a: (a.qname[1], a.qname[0]))
            g.mixed = t.mixed
            if t.content == "simple":
                assert t.simple is not None
                dt = datatype_of(t.simple)
                g.simple = dt
                content = sym(("CH",))
                info[("CH",)] = dt
            elif t.content == "element":
                assert t.particle is not None
                content = self._regex(t.particle, order, info)
            else:
                content = EPS
        parts = []
        for a in attrs:
            s = ("AT", a.qname)
            info[s] = a
            parts.append(sym(s) if a.required else alt(sym(s), EPS))
            g.attributes.append((a.qname[1], a.qname, datatype_of(a.type), a.required))
        start = seq(*parts, content)

        # explore derivatives
        ids: dict[tuple, int] = {start: 0}
        todo = [start]
        raw: list[tuple[tuple, list[tuple[tuple, int]]]] = []
        while todo:
            r = todo.pop(0)
            trans = []
            for s in sorted(first(r), key=lambda s: _sym_key(s, order)):
                d = deriv(r, s)
                if d not in ids:
                    ids[d] = len(ids)
                    todo.append(d)
                trans.append((s, ids[d]))
            raw.append((r, trans))
        raw.sort(key=lambda x: ids[x[0]])

        # fields and list-ness
        seen_fields: list[str] = [a.qname[1] for a in attrs]
        counts: dict[QName, float] = {}
        if isinstance(t, ComplexType) and t.particle is not None:
            _max_count(t.particle, counts, 1, self.substitutes)
        for s in sorted((s for s in order if s[0] == "E"), key=lambda s: order[s]):
            for e in self.substitutes(info[s]):  # type: ignore[arg-type]
                name = e.qname[1]
                if name in g.field_elements:
                    if all(x is not e for x in g.field_elements[name]):
                        g.field_elements[name].append(e)
                else:
                    g.field_elements[name] = [e]
                    if name in seen_fields:
                        raise GrammarError(f"{g.label}: name {name!r} used twice (attribute and element?)")
                    seen_fields.append(name)
                if counts.get(e.qname, 1) > 1:
                    g.list_fields.add(name)
        for name, decls in g.field_elements.items():
            if len({id(d.type) for d in decls}) > 1:
                raise GrammarError(f"{g.label}: element {name!r} declared with different types")
        if g.simple is not None and isinstance(t, ComplexType) and "value" in seen_fields:
            raise GrammarError(f"{g.label}: attribute named 'value' clashes with simple content key")
        g.fields = seen_fields

        for r, trans in raw:
            prods: list[tuple[tuple, Production]] = []
            for s, target in trans:
                if s[0] == "AT":
                    a = info[s]
                    prods.append(((0, s[1][1], s[1][0]), Production("AT", 0, target, s[1][1], s[1], dt=datatype_of(a.type))))  # type: ignore[attr-defined]
                elif s[0] == "E":
                    decl: ElementDecl = info[s]  # type: ignore[assignment]
                    for j, e in enumerate(self.substitutes(decl)):
                        prods.append(((3, order[s], j), Production("SE", 0, target, e.qname[1], e.qname, element=e)))
                elif s[0] == "W":
                    c = info[s].constraint  # type: ignore[attr-defined]
                    if c[0] == "list":
                        for uri in sorted(c[1]):
                            prods.append(((4, order[s], uri), Production("SEW", 0, target, f"{{{uri}}}*")))
                    else:
                        prods.append(((5, order[s], ""), Production("SEW", 0, target, "*")))
                elif s[0] == "CH":
                    prods.append(((7, 0, 0), Production("CH", 0, target, "", dt=info[s])))  # type: ignore[arg-type]
                else:
                    raise AssertionError(s)
            if nullable(r):
                prods.append(((6, 0, 0), Production("EE", 0, -1)))
            if g.mixed and _content_reachable(r):
                # mixed content: CH [untyped] in every content state, not in start-tag states that still
                # require an attribute (EXIficient adds it per content-model state)
                prods.append(((8, 0, 0), Production("CHM", 0, ids[r])))
            prods.sort(key=lambda x: x[0])
            seen: set = set()
            plist = []
            for i, (_, p) in enumerate(prods):
                p.code = i
                if p.kind in ("AT", "SE"):
                    if (p.kind, p.qname) in seen:
                        raise GrammarError(f"{g.label}: ambiguous {p.kind}({p.name}) in one state")
                    seen.add((p.kind, p.qname))
                plist.append(p)
            # non-strict: undeclared productions always exist at the second level -> n + 1 code points
            g.states.append(State(plist, code_width(len(plist) + 1)))

    def _regex(self, p: Particle, order: dict, info: dict) -> tuple:
        t = p.term
        if isinstance(t, ElementDecl):
            s = ("E", t.qname)
            if s in info and info[s] is not t:
                other = info[s]
                if other.type is not t.type:  # type: ignore[attr-defined]
                    raise GrammarError(f"element {t.qname} declared twice with different types")
            info.setdefault(s, t)
            order.setdefault(s, len(order))
            r = sym(s)
        elif isinstance(t, Wildcard):
            s = ("W", t.constraint)
            info.setdefault(s, t)
            order.setdefault(s, len(order))
            r = sym(s)
        else:
            if t.kind == "all":
                raise GrammarError("xs:all content models are not supported")
            kids = [self._regex(c, order, info) for c in t.particles]
            r = seq(*kids) if t.kind == "sequence" else (alt(*kids) if kids else EPS)
        return rep(r, p.min, p.max)


@cache
def _content_reachable(r: tuple) -> bool:
    """True when the content can start without another attribute (all remaining attributes optional)."""

    def strip(x: tuple) -> tuple:
        k = x[0]
        if k in ("e", "0"):
            return x
        if k == "s":
            return NONE if x[1][0] == "AT" else EPS
        if k == "seq":
            return seq(*(strip(p) for p in x[1]))
        if k == "alt":
            return alt(*(strip(p) for p in x[1]))
        return rep(strip(x[1]), x[2], x[3])

    return nullable(strip(r))


def free_order(states: list[list[Production]]) -> bool:
    """True when two element names can occur in either order (a repeated choice such as xmldsig KeyInfo):
    encoders then keep the order of the message dict, which is the order a decoder saw them in."""
    after: list[set[str]] = [set() for _ in states]  # names that can occur at or after each state
    changed = True
    while changed:
        changed = False
        for i, prods in enumerate(states):
            acc = set(after[i])
            for p in prods:
                if p.kind in ("AT", "SE"):
                    acc.add(p.name)
                    if p.target >= 0:
                        acc |= after[p.target]
            if acc != after[i]:
                after[i] = acc
                changed = True
    before: set[tuple[str, str]] = set()
    for prods in states:
        for p in prods:
            if p.kind in ("AT", "SE") and p.target >= 0:
                for later in after[p.target]:
                    if later != p.name:
                        if (later, p.name) in before:
                            return True
                        before.add((p.name, later))
    return False


def _sym_key(s: tuple, order: dict) -> tuple:
    """Deterministic exploration order (frozenset iteration order depends on string hashing)."""
    if s[0] == "AT":
        return (0, s[1][1], s[1][0])
    if s[0] in ("E", "W"):
        return (1, order[s], "")
    return (2, 0, "")
