"""Turns the grammars of one schema set into a Python module of specialised encoder/decoder functions.

Per type grammar we emit `d_<type>(v, r) -> (value, r)` and `e_<type>(a, value) -> a` (see `_runtime` for the
bit conventions). Decoders are straight-line code over the grammar states in topological order (a state is
skipped with an `if st == n` guard only where more than one state can be current); bounded repetitions (a
chain of identical states, e.g. maxOccurs="1024") are emitted as one counted loop instead of 1024 states.
Encoders walk the dict's keys in schema order and look the event code up in a small per-field table keyed by
the current state (constants where the state is known statically). A separate `<schema>_meta` module carries a
plain-data copy of the grammars for error messages, tests and tooling; the codec never needs it.
"""

from __future__ import annotations

import pprint
import re
from dataclasses import dataclass, field

from .grammar import (
    Datatype,
    GrammarBuilder,
    GrammarError,
    Production,
    TypeGrammar,
    code_width,
    datatype_of,
    free_order,
)
from .xsd import ComplexType, SimpleType, XsdError

KEY_DRIVEN_MIN_FIELDS = 12  # encoders of types with more fields (e.g. Body) dispatch on the present keys
TABLE_DISPATCH_MIN = 8  # decoder states with more productions dispatch through a tuple
TRIM_BITS = 1 << 15  # decoder loops mask consumed bits off the stream int after this many
SHORT_LIST = 16  # encoders append lists of up to this many items without per-item state bookkeeping
UNROLL = 4  # ... and lists of up to this many items without a loop
PEEL = 2  # decoders read the first items of a repetition without a loop ...
PEEL_MAX_PRODS = 4  # ... when its state has at most this many productions (each peel copies them all)


# ---------------------------------------------------------------------------------------------------------
# compressed state machines (bounded repetition -> counted runs)
# ---------------------------------------------------------------------------------------------------------
@dataclass
class CState:
    id: int
    width: int
    prods: list[Production]  # targets are compressed ids
    run_len: int = 0  # > 0: this state stands for run_len identical states chained by run_name
    run_name: str = ""
    members: list[int] = field(default_factory=list)  # original state ids


def _sig(g: TypeGrammar, s: int, via: str, nxt: int | None) -> tuple:
    st = g.states[s]
    return (
        st.width,
        tuple((p.kind, p.name, p.code, "NEXT" if (p.kind == "SE" and p.name == via and p.target == nxt) else p.target)
              for p in st.productions),
    )


def compress(g: TypeGrammar) -> list[CState]:
    n = len(g.states)
    indeg = [0] * n
    for st in g.states:
        for p in st.productions:
            if p.target >= 0:
                indeg[p.target] += 1
    link: dict[int, tuple[int, str]] = {}
    for s, st in enumerate(g.states):
        if any(p.target == s for p in st.productions):
            continue
        for p in st.productions:
            t = p.target
            if p.kind != "SE" or t < 0 or t == s or indeg[t] != 1 or any(q.target == t for q in g.states[t].productions):
                continue
            q = next((q for q in g.states[t].productions if q.kind == "SE" and q.name == p.name), None)
            if q is None:
                continue
            if _sig(g, s, p.name, t) == _sig(g, t, p.name, q.target):
                link[s] = (t, p.name)
                break
    linked_to = {t for t, _ in link.values()}
    order: list[list[int]] = []
    seen: set[int] = set()
    for s in range(n):
        if s in seen or s in linked_to:
            continue
        chain = [s]
        seen.add(s)
        while chain[-1] in link:
            t = link[chain[-1]][0]
            chain.append(t)
            seen.add(t)
        order.append(chain)
    for s in range(n):  # cycles of links cannot happen (indegree 1 + distinct signatures), but be safe
        if s not in seen:
            order.append([s])
            seen.add(s)
    cid = {}
    for k, chain in enumerate(order):
        for s in chain:
            cid[s] = k
    out = []
    for k, chain in enumerate(order):
        last = chain[-1]
        src = g.states[chain[0]]
        run_name = link[chain[0]][1] if len(chain) > 1 else ""
        prods = []
        for p in src.productions:
            t = p.target
            if run_name and p.kind == "SE" and p.name == run_name:
                t = next(q.target for q in g.states[last].productions if q.kind == "SE" and q.name == run_name)
            prods.append(Production(p.kind, p.code, cid[t] if t >= 0 else -1, p.name, p.qname, p.element, p.dt))
        out.append(CState(k, src.width, prods, len(chain) if len(chain) > 1 else 0, run_name, chain))
    return out


def _topo(states: list[CState]) -> list[int] | None:
    """Topological order ignoring self-loops and run loops, or None when the graph has real cycles."""
    n = len(states)
    succ = [{p.target for p in st.prods if p.target >= 0 and p.target != st.id} for st in states]
    indeg = [0] * n
    for ss in succ:
        for t in ss:
            indeg[t] += 1
    ready = sorted(i for i in range(n) if indeg[i] == 0)
    out = []
    while ready:
        i = ready.pop(0)
        out.append(i)
        for t in sorted(succ[i]):
            indeg[t] -= 1
            if indeg[t] == 0:
                ready.append(t)
        ready.sort()
    return out if len(out) == n else None


# ---------------------------------------------------------------------------------------------------------
# module writer
# ---------------------------------------------------------------------------------------------------------
class Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)


def _mask(n: int) -> int:
    return (1 << n) - 1


class ModuleGenerator:
    def __init__(self, schema: str, builder: GrammarBuilder, source: str) -> None:
        self.schema = schema
        self.b = builder
        self.source = source
        self.consts: list[str] = []
        self._const_ids: dict[str, str] = {}
        self.compressed: dict[str, list[CState]] = {}
        self.grammars: list[TypeGrammar] = []
        self.simple_funcs: dict[str, str] = {}
        self.extra_funcs: list[str] = []  # handlers and simple-element functions
        self.late_consts: list[str] = []  # tables that refer to functions (emitted after them)

    # -- constants -------------------------------------------------------------------------------------
    def const(self, prefix: str, literal: str) -> str:
        if literal not in self._const_ids:
            name = f"_{prefix}{len(self._const_ids)}"
            self._const_ids[literal] = name
            self.consts.append(f"{name} = {literal}")
        return self._const_ids[literal]

    def enum_tables(self, dt: Datatype) -> tuple[str, str]:
        values = repr(tuple(dt.values))
        idx = "{" + ", ".join(f"{v!r}: {i}" for i, v in enumerate(dt.values)) + "}"
        return self.const("E", values), self.const("I", idx)

    def child(self, p: Production) -> TypeGrammar:
        assert p.element is not None
        return self.b.grammar_for(p.element.type, p.element.qname[1])

    # -- decoding snippets -----------------------------------------------------------------------------
    def read_value(self, w: Writer, ind: int, dt: Datatype) -> None:
        """Lines that leave a raw value (no CH/EE events around it) in `x`."""
        k = dt.kind
        if k == "bool":
            w(ind, "r -= 1")
            w(ind, "x = (v >> r) & 1 == 1")
        elif k == "nbit":
            if dt.nbits == 0:
                w(ind, f"x = {dt.offset}")
            else:
                w(ind, f"r -= {dt.nbits}")
                w(ind, f"x = ((v >> r) & {_mask(dt.nbits)}){f' + {dt.offset}' if dt.offset else ''}")
        elif k == "enum":
            e, _ = self.enum_tables(dt)
            if dt.nbits == 0:
                w(ind, f"x = {e}[0]")
            else:
                w(ind, f"r -= {dt.nbits}")
                w(ind, f"x = {e}[(v >> r) & {_mask(dt.nbits)}]")
        elif k in ("uint", "int", "string", "hex", "b64"):
            fn = {"uint": "u", "int": "i", "string": "s", "hex": "b", "b64": "b"}[k]
            w(ind, f"x, r = {fn}(v, r)")
        else:
            w(ind, f"unsupported('values of type {k}')")

    def fixed_element(self, g: TypeGrammar, p: Production) -> Datatype | None:
        """The datatype when `p` is SE of a simple-typed element with a fixed-width value, else None."""
        if p.kind != "SE":
            return None
        cg = self.child(p)
        if isinstance(cg.type, SimpleType) and cg.simple is not None and cg.simple.kind in (
            "bool", "nbit", "enum", "uint", "int", "string"
        ):
            return cg.simple
        return None

    def read_element(self, w: Writer, ind: int, dt: Datatype, extra_bits: int = 0) -> None:
        """Lines for a simple-typed child element (CH event, value, EE event), value in `x`. With
        extra_bits=1 the element's own 1-bit event code (must be 0) is read in the same operation."""
        k = dt.kind
        if k in ("bool", "nbit", "enum"):
            n = 1 if k == "bool" else dt.nbits
            total = n + 2 + extra_bits
            w(ind, f"r -= {total}")
            w(ind, f"x = (v >> r) & {_mask(total)}")
            w(ind, f"if x & {(((1 << extra_bits) - 1) << (n + 2)) | (1 << (n + 1)) | 1}:")
            w(ind + 1, "und2()")
            if k == "bool":
                w(ind, "x = x == 2")
            elif k == "nbit":
                w(ind, f"x = {dt.offset}" if n == 0 else f"x = ((x >> 1) & {_mask(n)}){f' + {dt.offset}' if dt.offset else ''}")
            else:
                e, _ = self.enum_tables(dt)
                w(ind, f"x = {e}[0]" if n == 0 else f"x = {e}[(x >> 1) & {_mask(n)}]")
        elif k in ("uint", "int"):
            # fast path inline: CH 0, (sign 0,) one 7-bit group, EE 0; anything else via the helper
            width = 10 if k == "uint" else 11
            total = width + extra_bits
            check = (((1 << extra_bits) - 1) << width) | (0x301 if k == "uint" else 0x701)
            w(ind, f"r -= {total}")
            w(ind, f"x = (v >> r) & {_mask(total)}")
            w(ind, f"if x & {check}:")
            if extra_bits:
                w(ind + 1, f"if x >> {width}:")
                w(ind + 2, "und(1, 1)")
            w(ind + 1, f"x, r = {'eu' if k == 'uint' else 'ei'}(v, r + {width})")
            w(ind, "else:")
            w(ind + 1, "x >>= 1")
        elif k == "string":
            # fast path inline: CH 0, a one-byte length (< 126 characters), ASCII characters, EE 0; anything else
            # (also a stream too short for the length) goes to the helper from the CH bit on
            width = 9 + extra_bits
            w(ind, f"r -= {width}")
            w(ind, f"x = (v >> r) & {_mask(width)}")
            w(ind, f"if x & {(((1 << extra_bits) - 1) << 9) | 0x180} or x < 2 or (x << 3) - 15 > r:")
            if extra_bits:
                w(ind + 1, "if x >> 9:")
                w(ind + 2, "und(1, 1)")
            w(ind + 1, "x, r = es(v, r + 9)")
            w(ind, "else:")
            w(ind + 1, "r -= (x << 3) - 15")
            w(ind + 1, "y = v >> r")
            w(ind + 1, "raw = ((y >> 1) & ((1 << ((x << 3) - 16)) - 1)).to_bytes(x - 2, 'big')")
            w(ind + 1, "if y & 1 or not raw.isascii():")
            w(ind + 2, "x, r = es(v, r + (x << 3) - 6)")
            w(ind + 1, "else:")
            w(ind + 2, "x = raw.decode()")
        elif k in ("hex", "b64"):
            w(ind, "x, r = eb(v, r)")
        else:
            w(ind, f"unsupported('values of type {k}')")

    def simple_decoder(self, dt: Datatype) -> str:
        """A named function decoding a simple-typed element (for document roots and dispatch tables)."""
        key = repr(dt)
        if key not in self.simple_funcs:
            name = f"d_simple{len(self.simple_funcs)}"
            self.simple_funcs[key] = name
            w = Writer()
            w(0, f"def {name}(v, r):")
            self.read_element(w, 1, dt)
            w(1, "return x, r")
            self.extra_funcs.append("\n".join(w.lines))
            ename = f"e_simple{len(self.simple_funcs) - 1}"
            w = Writer()
            w(0, f"def {ename}(a, x):")
            self.write_element(w, 1, dt, "0", "0")
            w(1, "return a")
            self.extra_funcs.append("\n".join(w.lines))
        return self.simple_funcs[key]

    def decode_action(self, w: Writer, ind: int, g: TypeGrammar, p: Production, have_x: bool = False) -> None:
        if p.kind == "EE":
            w(ind, "return o, r")
            return
        if p.kind == "AT":
            assert p.dt is not None
            self.read_value(w, ind, p.dt)
            w(ind, f"o[{p.name!r}] = x")
            return
        if p.kind == "CH":
            assert p.dt is not None
            self.read_value(w, ind, p.dt)
            w(ind, "o['value'] = x")
            return
        if p.kind == "SEW":
            w(ind, "unsupported('wildcard (xs:any) content')")
            return
        if p.kind == "CHM":
            w(ind, "unsupported('mixed-content text')")
            return
        cg = self.child(p)
        if have_x:
            pass
        elif isinstance(cg.type, SimpleType):
            assert cg.simple is not None
            self.read_element(w, ind, cg.simple)
        elif p.name in g.list_fields and (plan := self.item_plan(cg)) is not None:
            self.inline_item(w, ind, cg, plan)
        else:
            w(ind, f"x, r = d_{cg.key}(v, r)")
        if p.name in g.list_fields:
            may, must = self._presence[0][self._sid], self._presence[1][self._sid]
            if p.name not in may:  # the first item on every path here
                w(ind, f"o[{p.name!r}] = [x]")
            elif p.name in must:  # an item came before on every path here
                w(ind, f"o[{p.name!r}].append(x)")
            else:
                w(ind, f"l = o.get({p.name!r})")
                w(ind, "if l is None:")
                w(ind + 1, f"o[{p.name!r}] = [x]")
                w(ind, "else:")
                w(ind + 1, "l.append(x)")
        else:
            w(ind, f"o[{p.name!r}] = x")

    def item_plan(self, cg: TypeGrammar) -> list[tuple] | None:
        """The decoder of complex type `cg` as a list of steps, when it is one path of required simple elements
        in their common form: ("s", name) a short ASCII string element, ("f", [(sid, segment), ...]) consecutive
        fixed-width states (see `segment`), the last one ending with EE. None for any other type."""
        states = self.compressed[cg.key]
        plan: list[tuple] = []
        sid = 0
        seen = set()
        while sid not in seen:
            seen.add(sid)
            st = states[sid]
            if len(st.prods) != 1 or st.width != 1 or st.run_len or st.prods[0].target == sid:
                return None
            p = st.prods[0]
            if p.kind == "SE" and p.name not in cg.list_fields and (dt := self.fixed_element(cg, p)) is not None \
                    and dt.kind == "string":
                plan.append(("s", p.name))
                sid = p.target
                continue
            seg = self.segment(cg, st)
            if seg is None:
                return None
            dt = seg[2]
            if dt is not None and dt.kind == "enum" and len(dt.values) < (1 << dt.nbits):
                return None  # an index beyond the table would raise here instead of in `d_<type>`
            if not plan or plan[-1][0] != "f":
                plan.append(("f", []))
            plan[-1][1].append((sid, seg))
            if p.kind == "EE":
                return plan
            sid = p.target
        return None

    def seg_value(self, dt: Datatype, sh: int, x: str) -> str:
        """Expression for the value of a fixed-width segment whose value bits end `sh` bits above bit 0 of `x`."""
        if dt.kind == "bool":
            return f"({x} >> {sh}) & 1 == 1"
        if dt.kind == "nbit":
            return str(dt.offset) if dt.nbits == 0 else f"(({x} >> {sh}) & {_mask(dt.nbits)}){f' + {dt.offset}' if dt.offset else ''}"
        if dt.kind == "enum":
            e, _ = self.enum_tables(dt)
            return f"{e}[0]" if dt.nbits == 0 else f"{e}[({x} >> {sh}) & {_mask(dt.nbits)}]"
        return f"({x} >> {sh}) & 127"

    def seg_values(self, states: list[CState], segs: list[tuple], total: int, var: str) -> tuple[int, list[str]]:
        """Must-be-zero mask and dict-display entries of consecutive fixed-width segments in the low `total`
        bits of `var`."""
        check = 0
        pos = total
        vals = []
        for sid, (width, bits, dt) in segs:
            pos -= width
            check |= bits << pos
            if dt is not None:
                vals.append(f"{states[sid].prods[0].name!r}: {self.seg_value(dt, pos + 1, var)}")
        return check, vals

    def inline_item(self, w: Writer, ind: int, cg: TypeGrammar, plan: list[tuple],
                    code: CState | None = None) -> None:
        """Read a list item of type `cg` (see `item_plan`) into `x` without calling `d_<type>`: step by step, and
        when any event code, length or character is not in its common form, `d_<type>` decodes the item from its
        start instead (and reports what is wrong). The item dict is built in one display at the end.

        Bounds are not compared: running off the stream (a negative shift count), a length byte outside 2..127
        (an index past the mask table, a negative byte count) or a non-ASCII character raise ValueError or
        IndexError inside the `try` (no cost in CPython 3.11 unless raised), which also means the fallback.

        `code`: the item's event code is still to be read, in this state (see `speculation`): its bits are read
        with the length byte and must be 0 (anything else makes the length too long). That is compared before
        the `try`, since the other codes (the list's end) are common and an exception is not cheap; the
        fallback reads the code and dispatches on it."""
        states = self.compressed[cg.key]
        cw = code.width if code is not None else 0
        w(ind, "r0 = r")
        w(ind, "x = None")
        t = ind
        if code is not None:
            w(ind, f"if r > {9 + cw} and (n := (v >> (r - {10 + cw})) & {_mask(10 + cw)}) < 128:")
            t += 1
        w(t, "try:")
        items: list[str] = []
        d = t + 1
        k = 0
        while k < len(plan):
            step = plan[k]
            if step[0] == "s":
                # header (event code, CH, one length byte), then the characters, EE and the fixed-width states
                # that follow (if any) in one read
                segs = plan[k + 1][1] if k + 1 < len(plan) else []
                total = sum(sg[0] for _, sg in segs)
                check, vals = self.seg_values(states, segs, total, "y")
                sv = f"s{k}"
                if k or code is None:
                    w(d, "n = (v >> (r - 10)) & 1023")
                w(d, f"r -= (n << 3) + {total - 5 + (cw if k == 0 else 0)}")
                # the mask of the item's n bits from a table indexed by the length byte (no `(1 << n) - 1`)
                mk = self.const("M", f"tuple((1 << max(0, (x << 3) + {total - 15})) - 1 for x in range(128))")
                w(d, f"y = (v >> r) & {mk}[n]")
                w(d, f"{sv} = (y >> {total + 1}).to_bytes(n - 2, 'big')")
                w(d, f"if not y & {check | (1 << total)} and {sv}.isascii():")
                items.append(f"{step[1]!r}: {sv}.decode()")
                items += vals
                d += 1
                k += 2 if segs else 1
                continue
            segs = step[1]
            total = sum(sg[0] for _, sg in segs)
            gv = f"g{k}"
            check, vals = self.seg_values(states, segs, total, gv)
            items += vals
            w(d, f"r -= {total}")
            w(d, f"if not ({gv} := (v >> r) & {_mask(total)}) & {check}:")
            d += 1
            k += 1
        w(d, f"x = {{{', '.join(items)}}}")
        w(t, "except (ValueError, IndexError):")
        w(t + 1, "pass")
        w(ind, "if x is None:")
        if code is None:
            w(ind + 1, f"x, r = d_{cg.key}(v, r0)")
            return
        w(ind + 1, f"r = r0 - {cw}")
        w(ind + 1, f"c = (v >> r) & {_mask(cw)}")
        if len(code.prods) == 1:
            w(ind + 1, "if c:")
            w(ind + 2, "und(c, 1)")
        else:
            w(ind + 1, "if c == 0:")
            w(ind + 2, f"x, r = d_{cg.key}(v, r)")
            for p in code.prods:
                if p.kind == "EE":
                    w(ind + 1, f"elif c == {p.code}:")
                    w(ind + 2, "return o, r")
            w(ind + 1, "else:")
            w(ind + 2, f"und(c, {len(code.prods)})")
            return
        w(ind + 1, f"x, r = d_{cg.key}(v, r)")

    def speculation(self, g: TypeGrammar, st: CState) -> tuple[Production, TypeGrammar, list[tuple]] | None:
        """A state whose code-0 production is an item of a list that `inline_item` reads, and whose other
        productions are EE: the item is read together with its event code (one read less per item); the
        other productions only come up in the fallback."""
        if st.run_len and not any(p.kind == "SE" and p.name == st.run_name and p.code == 0 for p in st.prods):
            return None
        p0 = next((p for p in st.prods if p.code == 0), None)
        if p0 is None or p0.kind != "SE" or p0.name not in g.list_fields:
            return None
        if any(p.kind != "EE" for p in st.prods if p is not p0):
            return None
        cg = self.child(p0)
        if isinstance(cg.type, SimpleType) or (plan := self.item_plan(cg)) is None or plan[0][0] != "s":
            return None
        return p0, cg, plan

    def dispatch(self, w: Writer, ind: int, g: TypeGrammar, st: CState, body) -> None:  # type: ignore[no-untyped-def]
        """Read the event code of state `st` and run `body(prod, indent)` for the matching production."""
        spec = self.speculation(g, st)
        if spec is not None:
            p0, cg, plan = spec
            self.inline_item(w, ind, cg, plan, st)
            body(p0, ind, True)
            return
        n = len(st.prods)
        if n == 1 and st.width == 1 and not st.run_len and st.prods[0].target != st.id:
            # a single declared production: its code is one 0 bit, anything else is an undeclared event
            p = st.prods[0]
            fixed = self.fixed_element(g, p)
            if fixed is not None:  # merge the event bit with CH, value and EE of a fixed-width simple element
                self.read_element(w, ind, fixed, extra_bits=1)
                w(ind, "c = 0")
                body(p, ind, True)
                return
            w(ind, "r -= 1")
            w(ind, "c = (v >> r) & 1")
            w(ind, "if c:")
            w(ind + 1, "und(c, 1)")
            body(p, ind)
            return
        w(ind, f"r -= {st.width}")
        w(ind, f"c = (v >> r) & {_mask(st.width)}")
        simple_tab = (
            n >= TABLE_DISPATCH_MIN
            and not st.run_len
            and all(p.kind == "SE" and p.name not in g.list_fields for p in st.prods if p.kind != "EE")
        )
        if simple_tab:
            entries = []
            for p in st.prods:
                if p.kind == "EE":
                    entries.append("None")
                    continue
                cg = self.child(p)
                fn = self.simple_decoder(cg.simple) if isinstance(cg.type, SimpleType) else f"d_{cg.key}"  # type: ignore[arg-type]
                entries.append(f"({p.name!r}, {fn}, {p.target})")
            tab = f"_D_{g.key}_{st.id}"
            self.late_consts.append(f"{tab} = ({', '.join(entries)},)")
            w(ind, f"if c >= {n}:")
            w(ind + 1, f"und(c, {n})")
            w(ind, f"t = {tab}[c]")
            w(ind, "if t is None:")
            w(ind + 1, "return o, r")
            w(ind, "x, r = t[1](v, r)")
            w(ind, "o[t[0]] = x")
            w(ind, "st = t[2]")
            return
        for j, p in enumerate(st.prods):
            w(ind, ("if" if j == 0 else "elif") + f" c == {p.code}:")
            body(p, ind + 1)
        w(ind, "else:")
        w(ind + 1, f"und(c, {n})")

    @staticmethod
    def list_presence(g: TypeGrammar, states: list[CState]) -> tuple[list[set[str]], list[set[str]]]:
        """Per state: the list fields that may already hold an item, and those that must (dataflow over the
        state graph from the empty dict of state 0): the decoder creates or appends without looking first."""
        lists = set(g.list_fields)
        n = len(states)
        may: list[set[str]] = [set() for _ in range(n)]
        must: list[set[str] | None] = [None] * n  # None: no path seen yet (top)
        must[0] = set()
        changed = True
        while changed:
            changed = False
            for s, st in enumerate(states):
                if must[s] is None:
                    continue
                edges = [(p, p.target) for p in st.prods]
                # a run (compressed repetition) loops on its element before it leaves: an edge to itself
                edges += [(p, s) for p in st.prods if st.run_len and p.kind == "SE" and p.name == st.run_name]
                for p, t in edges:
                    if t < 0:
                        continue
                    add = {p.name} if p.kind == "SE" and p.name in lists else set()
                    m = may[s] | add
                    if not m <= may[t]:
                        may[t] |= m
                        changed = True
                    k = must[s] | add  # type: ignore[operator]
                    new = k if must[t] is None else (must[t] & k)  # type: ignore[operator]
                    if t == 0:
                        new = set()
                    if new != must[t]:
                        must[t] = new
                        changed = True
        return may, [m if m is not None else set() for m in must]

    def gen_decoder(self, g: TypeGrammar) -> str:
        w = Writer()
        w(0, f"def d_{g.key}(v, r):")
        w(1, "o = {}")
        states = self.compressed[g.key]
        self._presence = self.list_presence(g, states)
        order = _topo(states)
        if order is None:
            w(1, "st = 0")
            self.trim_init(w, 1)
            w(1, "while True:")
            self.trim(w, 2)
            for j, sid in enumerate(range(len(states))):
                w(2, ("if" if j == 0 else "elif") + f" st == {sid}:")
                self.state_block(w, 3, g, states[sid])
            w(2, "else:")
            w(3, "raise AssertionError(st)")
            return "\n".join(w.lines)
        possible = {0}
        w(1, "st = 0")
        plan: list[tuple[int, bool]] = []
        for sid in order:
            st = states[sid]
            if sid not in possible:
                continue  # unreachable
            plan.append((sid, possible != {sid}))
            possible = (possible - {sid}) | {p.target for p in st.prods if p.target >= 0 and p.target != sid}
        j = 0
        while j < len(plan):
            sid, guarded = plan[j]
            group = [] if guarded else self.fusable_run(g, states, [s for s, gd in plan[j:]], [gd for _, gd in plan[j:]])
            if len(group) >= 2:
                self.fused_block(w, g, states, group)
                j += len(group)
                continue
            ind = 1
            if guarded:
                w(1, f"if st == {sid}:")
                ind = 2
            self.state_block(w, ind, g, states[sid])
            j += 1
        w(1, "raise AssertionError('grammar fell through')")
        return "\n".join(w.lines)

    def segment(self, g: TypeGrammar, st: CState) -> tuple[int, int, Datatype | None] | None:
        """(width, must-be-zero bits, datatype) of a state that reads a fixed number of bits in the common case:
        one declared production (a 1-bit code) that is EE or a simple element of fixed width (integers: one
        7-bit group). None for any other state."""
        if len(st.prods) != 1 or st.width != 1 or st.run_len or st.prods[0].target == st.id:
            return None
        p = st.prods[0]
        if p.kind == "EE":
            return 1, 1, None
        dt = self.fixed_element(g, p)
        if dt is None or p.name in g.list_fields:
            return None
        if dt.kind in ("bool", "nbit", "enum"):
            n = 1 if dt.kind == "bool" else dt.nbits
            return n + 3, (1 << (n + 2)) | (1 << (n + 1)) | 1, dt
        if dt.kind == "uint":
            return 11, 0x400 | 0x301, dt
        if dt.kind == "int":
            return 12, 0x800 | 0x701, dt
        return None

    def fusable_run(self, g: TypeGrammar, states: list[CState], sids: list[int], guarded: list[bool]) -> list[int]:
        """The longest prefix of `sids` (in decoding order) that follows one path of fixed-width states."""
        out: list[int] = []
        for sid, gd in zip(sids, guarded, strict=True):
            st = states[sid]
            if gd or (out and states[out[-1]].prods[0].target != sid) or self.segment(g, st) is None:
                break
            out.append(sid)
            if st.prods[0].kind == "EE":
                break
        return out

    def fused_block(self, w: Writer, g: TypeGrammar, states: list[CState], group: list[int]) -> None:
        """Consecutive fixed-width states read with one shift and mask; if any event code, CH/EE code or
        integer continuation bit is not the common one, the states are decoded one by one instead."""
        segs = [self.segment(g, states[sid]) for sid in group]
        total = sum(sg[0] for sg in segs)  # type: ignore[index]
        check = 0
        pos = total
        fast: list[str] = []
        for sid, sg in zip(group, segs, strict=True):
            width, bits, dt = sg  # type: ignore[misc]
            pos -= width
            check |= bits << pos
            p = states[sid].prods[0]
            if dt is None:
                fast.append("return o, r")
                continue
            if dt.kind == "enum":
                fast += [f"st = {sid}", "c = 0"]  # an index beyond the table is reported at this field
            fast.append(f"o[{p.name!r}] = {self.seg_value(dt, pos + 1, 'x')}")  # value bits sit above the EE bit
        if fast[-1] != "return o, r":
            fast += [f"st = {states[group[-1]].prods[0].target}", "c = 0"]
        w(1, f"r -= {total}")
        w(1, f"x = (v >> r) & {_mask(total)}")
        w(1, f"if x & {check}:")
        w(2, f"r += {total}")
        for sid in group:
            self.state_block(w, 2, g, states[sid])
        w(1, "else:")
        for line in fast:
            w(2, line)

    @staticmethod
    def trim_init(w: Writer, ind: int) -> None:
        """Before a loop: the position below which the consumed bits exceed TRIM_BITS (see `trim`)."""
        w(ind, f"lim = v.bit_length() - {TRIM_BITS}")

    @staticmethod
    def trim(w: Writer, ind: int) -> None:
        """In loops (the only way to long streams): drop consumed high bits now and then, so that `v >> r`
        stays cheap and decoding time grows linearly with the stream length. One comparison per iteration;
        after a trim `v` has at most `r` bits."""
        w(ind, "if r < lim:")
        w(ind + 1, "v &= (1 << r) - 1")
        w(ind + 1, f"lim = r - {TRIM_BITS}")

    def state_block(self, w: Writer, ind: int, g: TypeGrammar, st: CState) -> None:
        self._sid = st.id  # for decode_action: which list fields exist on entry
        if st.run_len or any(p.target == st.id for p in st.prods):
            self.repetition(w, ind, g, st, 0)
            return

        def body(p: Production, i: int, have_x: bool = False) -> None:
            self.decode_action(w, i, g, p, have_x)
            if p.kind != "EE":
                w(i, f"st = {p.target}")

        self.dispatch(w, ind, g, st, body)

    def repetition(self, w: Writer, ind: int, g: TypeGrammar, st: CState, done: int) -> None:
        """A state that repeats an element: a run of `st.run_len` (compressed maxOccurs) or a self-loop
        (unbounded). The first PEEL repetitions are straight-line code nested in each other (most lists are
        short); the rest loop, with the trim that keeps long streams linear. Leaving the state sets `st` and
        falls through (after the loop: `break`)."""
        def again(p: Production) -> bool:
            return p.kind == "SE" and p.name == st.run_name if st.run_len else p.target == st.id

        if done < PEEL and len(st.prods) <= PEEL_MAX_PRODS:
            def peeled(p: Production, i: int, have_x: bool = False) -> None:
                self.decode_action(w, i, g, p, have_x)
                if p.kind == "EE":
                    return
                if not again(p):
                    w(i, f"st = {p.target}")
                elif st.run_len and done + 1 == st.run_len:
                    w(i, f"st = {p.target}")  # the run is complete
                else:
                    self.repetition(w, i, g, st, done + 1)

            self.dispatch(w, ind, g, st, peeled)
            return
        if st.run_len:
            w(ind, f"k = {done}")
        self.trim_init(w, ind)
        w(ind, "while True:")
        self.trim(w, ind + 1)

        def looped(p: Production, i: int, have_x: bool = False) -> None:
            self.decode_action(w, i, g, p, have_x)
            if p.kind == "EE":
                return
            if not again(p):
                w(i, f"st = {p.target}")
                w(i, "break")
            elif st.run_len:
                w(i, "k += 1")
                w(i, f"if k == {st.run_len}:")
                w(i + 1, f"st = {p.target}")
                w(i + 1, "break")

        self.dispatch(w, ind + 1, g, st, looped)

    # -- encoding snippets -----------------------------------------------------------------------------
    def check_int(self, w: Writer, ind: int, dt: Datatype) -> None:
        lo, hi = dt.minimum, dt.maximum
        conds = ["x.__class__ is not int"]
        if lo is not None:
            conds.append(f"x < {lo}")
        if hi is not None:
            conds.append(f"x > {hi}")
        w(ind, f"if {' or '.join(conds)}:")
        w(ind + 1, f"x = as_int(x, {lo}, {hi})")

    def write_value(self, w: Writer, ind: int, dt: Datatype) -> None:
        """Append raw value `x` (no CH/EE codes) to `a`."""
        k = dt.kind
        if k == "bool":
            w(ind, "if x is True:")
            w(ind + 1, "a = (a << 1) | 1")
            w(ind, "elif x is False:")
            w(ind + 1, "a <<= 1")
            w(ind, "else:")
            w(ind + 1, "bad_bool(x)")
        elif k == "nbit":
            self.check_int(w, ind, dt)
            if dt.nbits:
                w(ind, f"a = (a << {dt.nbits}) | (x{f' - {dt.offset}' if dt.offset else ''})")
        elif k == "enum":
            _, idx = self.enum_tables(dt)
            w(ind, f"j = {idx}.get(x)")
            w(ind, "if j is None:")
            w(ind + 1, f"bad_enum(x, {idx})")
            if dt.nbits:
                w(ind, f"a = (a << {dt.nbits}) | j")
        elif k in ("uint", "int"):
            self.check_int(w, ind, dt)
            w(ind, f"a = {'wu' if k == 'uint' else 'wi'}(a, x)")
        elif k == "string":
            w(ind, "a = ws(a, x)")
        elif k in ("hex", "b64"):
            w(ind, "a = wb(a, x)")
        else:
            w(ind, f"raise Invalid('values of type {k} are not supported')")

    def write_element(self, w: Writer, ind: int, dt: Datatype, c: str, wd: str) -> None:
        """Append event code (c, wd), then CH, value `x`, EE of a simple-typed element."""
        k = dt.kind
        if k == "bool":
            w(ind, "if x is not True and x is not False:")
            w(ind + 1, "bad_bool(x)")
            w(ind, f"a = {_append(c, wd, 3, '(2 if x else 0)')}")
        elif k == "nbit":
            self.check_int(w, ind, dt)
            n = dt.nbits
            val = f"((x{f' - {dt.offset}' if dt.offset else ''}) << 1)" if n else ""
            w(ind, f"a = {_append(c, wd, n + 2, val)}")
        elif k == "enum":
            _, idx = self.enum_tables(dt)
            w(ind, f"j = {idx}.get(x)")
            w(ind, "if j is None:")
            w(ind + 1, f"bad_enum(x, {idx})")
            w(ind, f"a = {_append(c, wd, dt.nbits + 2, '(j << 1)')}")
        elif k in ("uint", "int"):
            # fast path inline: a plain int in range and below 128 is one 7-bit group; anything else is checked
            # (as_int raises) and written by the helper
            lo, hi = dt.minimum, dt.maximum
            lo_fast = 0 if lo is None else max(lo, 0)
            hi_fast = 127 if hi is None else min(hi, 127)
            if lo_fast <= hi_fast:
                w(ind, f"if x.__class__ is int and {lo_fast - 1} < x < {hi_fast + 1}:")
                w(ind + 1, f"a = {_append(c, wd, 10 if k == 'uint' else 11, '(x << 1)')}")
                w(ind, "else:")
                ind += 1
            w(ind, f"a = {'wu' if k == 'uint' else 'wi'}({_append(c, wd, 1, '')}, as_int(x, {lo}, {hi})) << 1")
        elif k == "string":
            # inline fast path: short ASCII string = CH 0, one length byte, one byte per character, EE 0; the
            # bits after the event code are put together in a small int first, then appended in one go
            w(ind, "if x.__class__ is str and x.isascii() and (ln := len(x)) < 126:")
            if c == "0" or wd == "0":
                head = "(ln + 2)"
            elif c.isdigit():
                head = f"({int(c) << 9} | (ln + 2))"
            else:
                head = f"(({c} << 9) | (ln + 2))"
            shift = str(int(wd) + 10) if wd.isdigit() else f"{wd} + 10"
            w(ind + 1, f"a = (a << ((ln << 3) + {shift})) | ((({head} << (ln << 3)) | _fb(x.encode(), 'big')) << 1)")
            w(ind, "else:")
            w(ind + 1, f"a = ws({_append(c, wd, 1, '')}, x) << 1")
        elif k in ("hex", "b64"):
            w(ind, f"a = wb({_append(c, wd, 1, '')}, x) << 1")
        else:
            w(ind, f"raise Invalid('values of type {k} are not supported')")

    def emit_item(self, w: Writer, ind: int, g: TypeGrammar, name: str, c: str, wd: str) -> None:
        """Append event code (c, wd) and the encoding of field `name` held in `x`."""
        decls = g.field_elements.get(name)
        if decls is None:  # attribute
            dt = next(a[2] for a in g.attributes if a[0] == name)
            if wd != "0":
                w(ind, f"a = {_head(c, wd)}")
            self.write_value(w, ind, dt)
            return
        cg = self.b.grammar_for(decls[0].type, decls[0].qname[1])
        if isinstance(cg.type, SimpleType):
            assert cg.simple is not None
            self.write_element(w, ind, cg.simple, c, wd)
        else:
            w(ind, f"a = e_{cg.key}({_head(c, wd)}, x)")

    def field_table(self, g: TypeGrammar, states: list[CState], name: str, possible: set[int]) -> dict[int, tuple]:
        out = {}
        for s in sorted(possible):
            st = states[s]
            for p in st.prods:
                if p.kind in ("AT", "SE") and p.name == name:
                    run = st.run_len if (st.run_len and st.run_name == name) else 0
                    out[s] = (p.code, st.width, p.target, run)
        return out

    @staticmethod
    def closure(states: list[CState], name: str, start: set[int]) -> set[int]:
        out: set[int] = set()
        todo = list(start)
        while todo:
            s = todo.pop()
            for p in states[s].prods:
                if p.kind in ("AT", "SE") and p.name == name and p.target not in out:
                    out.add(p.target)
                    todo.append(p.target)
        return out

    def field_code(self, w: Writer, ind: int, g: TypeGrammar, states: list[CState], name: str,
                   possible: set[int], tail: str | None = None) -> set[int]:
        """Emit the encoding of field `name` (value already in `x`, not None); return the new possible set.

        `tail` (the known-keys constant) says that the field is the type's last: a short list then also
        appends the closing EE, whose code is known per item count, and returns."""
        table = self.field_table(g, states, name, possible)
        is_list = name in g.list_fields
        reach = self.closure(states, name, possible) if is_list else {t[2] for t in table.values()}
        if not table:
            w(ind, f"raise Invalid({name!r} + ' is not allowed here')")
            return possible
        if not is_list:
            if len(possible) == 1 and len(table) == 1:
                (code, width, target, _), = table.values()
                self.emit_item(w, ind, g, name, str(code), str(width))
                w(ind, f"st = {target}")
            else:
                tname = self.const("T", repr({s: t[:3] for s, t in table.items()}))
                w(ind, f"c, wd, st = {tname}[st]")
                self.emit_item(w, ind, g, name, "c", "wd")
            return possible | reach
        table = self.field_table(g, states, name, possible | reach)  # the loop walks through `reach` too
        tname = self.const("T", repr(table))
        w(ind, "if x.__class__ is not list:")
        w(ind + 1, "x = as_list(x)")
        if len(possible) == 1:
            # the common short list from a known state: the event code of item i and the state after n items are
            # known in advance (tables), so items are appended straight to `a` without any per-item bookkeeping
            codes, after = _walk(table, next(iter(possible)), SHORT_LIST)
            if codes:
                w(ind, "m = len(x)")
                # one, two, ... UNROLL items: straight-line code (no loop, no per-item branch)
                decls = g.field_elements.get(name)
                cg = self.b.grammar_for(decls[0].type, decls[0].qname[1]) if decls else None
                whole = self.whole_run(cg) if cg is not None and not isinstance(cg.type, SimpleType) else None
                for m in range(1, min(UNROLL, len(codes)) + 1):
                    w(ind, f"{'if' if m == 1 else 'elif'} m == {m}:")
                    w(ind + 1, "xs = x")
                    ee = self.ee_of(states[after[m]]) if tail else None
                    if whole is not None:
                        self.inline_items(w, ind + 1, cg, whole, codes[:m], ee)  # type: ignore[arg-type]
                    else:
                        for i in range(m):
                            w(ind + 1, f"i = {i}")
                            w(ind + 1, f"x = xs[{i}]")
                            self.emit_item(w, ind + 1, g, name, *map(str, codes[i]))
                        if ee is not None:
                            w(ind + 1, _close(*ee))
                    if ee is None:
                        w(ind + 1, f"st = {after[m]}")
                        continue
                    w(ind + 1, "if u != len(d):")  # what the function's end does, which this branch skips
                    w(ind + 2, "f = None")
                    w(ind + 2, f"extra(d, {tail})")
                    w(ind + 1, "return a")
                # the rest of the short lists (and the empty list) in a loop without bookkeeping
                w(ind, f"elif m <= {len(codes)}:")
                w(ind + 1, f"st = {self.const('Q', repr(tuple(after)))}[m]")
                w(ind + 1, "for i, x in enumerate(x):")
                sub = Writer()
                self.emit_item(sub, 0, g, name, "0", "0")
                if len(set(codes)) == 1:
                    self.emit_item(w, ind + 2, g, name, *map(str, codes[0]))
                elif len(set(codes[1:])) == 1 and len(sub.lines) == 1:  # one call: first item apart
                    w(ind + 2, "if i:")
                    self.emit_item(w, ind + 3, g, name, *map(str, codes[1]))
                    w(ind + 2, "else:")
                    self.emit_item(w, ind + 3, g, name, *map(str, codes[0]))
                else:
                    w(ind + 2, f"c, wd = {self.const('P', repr(tuple(codes)))}[i]")
                    self.emit_item(w, ind + 2, g, name, "c", "wd")
                w(ind + 1, "i = -1")
                w(ind, "else:")
                ind += 1
        # items go to a fresh accumulator that is joined into `a` every TRIM_BITS bits, so long lists cost
        # linear time (appending to one huge int copies it every time)
        w(ind, "k = 0")
        w(ind, "a0 = a")
        w(ind, "a = 1")
        w(ind, "for i, x in enumerate(x):")
        w(ind + 1, f"c, wd, nx, n = {tname}[st]")
        self.emit_item(w, ind + 1, g, name, "c", "wd")
        w(ind + 1, "if n:")
        w(ind + 2, "k += 1")
        w(ind + 2, "if k == n:")
        w(ind + 3, "st = nx")
        w(ind + 3, "k = 0")
        w(ind + 1, "else:")
        w(ind + 2, "st = nx")
        w(ind + 2, "k = 0")
        w(ind + 1, f"if a.bit_length() > {TRIM_BITS}:")
        w(ind + 2, "nb = a.bit_length() - 1")
        w(ind + 2, "a0 = (a0 << nb) | (a ^ (1 << nb))")
        w(ind + 2, "a = 1")
        w(ind, "nb = a.bit_length() - 1")
        w(ind, "a = (a0 << nb) | (a ^ (1 << nb))")
        w(ind, "i = -1")
        return possible | reach

    def fused_run(self, g: TypeGrammar, states: list[CState], fields: list[str], possible: set[int]) -> list[tuple]:
        """The leading fields that are required simple elements with a statically known event code and a value
        kind with a fixed common form: (name, datatype, code, width, target) each."""
        run: list[tuple] = []
        for n in fields:
            if len(possible) != 1 or n in g.list_fields or n not in g.field_elements:
                break
            st = states[next(iter(possible))]
            if len(st.prods) != 1 or st.prods[0].name != n or st.prods[0].kind != "SE" or st.run_len:
                break
            decl = g.field_elements[n][0]
            cg = self.b.grammar_for(decl.type, decl.qname[1])
            dt = cg.simple
            if not isinstance(cg.type, SimpleType) or dt is None or dt.kind not in _FUSABLE:
                break
            if dt.kind in ("uint", "int") and not _small_int_range(dt):
                break
            p = st.prods[0]
            run.append((n, dt, p.code, st.width, p.target))
            possible = {p.target}
        return run

    def fused_terms(self, run: list[tuple], y: str = "y", ln: str = "ln", j0: int = 0) -> tuple[list[str], list[tuple]]:
        """Conditions (every value of `run`, held in variables y<j0>, y<j0+1>, ..., has its common form) and
        parts (bit count expression, value expression) appending them all; see `fused_append`."""
        conds, parts = [], []
        for j, (_n, dt, code, width, _target) in enumerate(run, j0):
            yj, lj = f"{y}{j}", f"{ln}{j}"
            k = dt.kind
            if k == "nbit":
                conds.append(f"{yj}.__class__ is int and {dt.minimum} <= {yj} <= {dt.maximum}")
                val = f"(({yj} - {dt.offset}) << 1)" if dt.offset else f"({yj} << 1)"
                parts.append((str(width + dt.nbits + 2), f"({code << (dt.nbits + 2)} | {val})" if code else val))
            elif k in ("uint", "int"):
                lo, hi = _small_int_range(dt)  # type: ignore[misc]
                conds.append(f"{yj}.__class__ is int and {lo - 1} < {yj} < {hi + 1}")
                bits = 10 if k == "uint" else 11
                parts.append((str(width + bits), f"({code << bits} | ({yj} << 1))" if code else f"({yj} << 1)"))
            elif k == "enum":
                _, idx = self.enum_tables(dt)
                conds.append(f"(j{j} := {idx}.get({yj})) is not None")
                val = f"(j{j} << 1)"
                parts.append((str(width + dt.nbits + 2), f"({code << (dt.nbits + 2)} | {val})" if code else val))
            elif k == "bool":
                conds.append(f"({yj} is True or {yj} is False)")
                parts.append((str(width + 3), f"({code << 3} | ({yj} << 1))" if code else f"({yj} << 1)"))
            else:  # string: CH, length + 2 in one byte, one byte per ASCII character, EE
                conds.append(f"{yj}.__class__ is str and {yj}.isascii() and ({lj} := len({yj})) < 126")
                if code:
                    head = f"({code << 9} | ({lj} + 2))"
                    val = f"((({head} << ({lj} << 3)) | _fb({yj}.encode(), 'big')) << 1)"
                else:  # the length byte as a character in front: one conversion for both
                    chars = self.const("C", "tuple(map(chr, range(128)))")
                    val = f"(_fb(({chars}[{lj} + 2] + {yj}).encode(), 'big') << 1)"
                parts.append((f"({lj} << 3) + {width + 10}", val))
        return conds, parts

    @staticmethod
    def join_parts(parts: list[tuple], base: str = "a") -> str:
        """`a` followed by all parts (bit count expression, value expression; value "0" = zero bits), in one
        shift: `(a << total) | term | term ...`."""
        def split(b: str) -> tuple[list[str], int]:
            return ([], int(b)) if b.isdigit() else ([b.split(" + ")[0]], int(b.split(" + ")[1]))

        terms = []
        for j, (_bits, val) in enumerate(parts):
            if val == "0":
                continue
            var: list[str] = []
            const = 0
            for b, _ in parts[j + 1:]:
                v, k = split(b)
                var += v
                const += k
            if val.endswith(" << 1)"):
                # "(x << 1)" shifted further: one shift ("(((...) << 1)" and "(y0 << 1)" alike)
                inner = val[1:-len(" << 1)")]
                terms.append(f"({inner} << ({' + '.join(var + [str(const + 1)])}))" if var else
                             f"({inner} << {const + 1})")
                continue
            shift = " + ".join(var + ([str(const)] if const else []))
            terms.append(f"({val} << ({shift}))" if shift else val)
        total: list[str] = []
        tconst = 0
        for b, _ in parts:
            v, k = split(b)
            total += v
            tconst += k
        shift = " + ".join(total + ([str(tconst)] if tconst else []))
        head = f"({base} << ({shift}))" if shift else base
        return f"{head} | {' | '.join(terms)}" if terms else head

    def fused_append(self, w: Writer, run: list[tuple]) -> None:
        """`if <every value has its common form>: a = <all fields at once>`: one big-int shift instead of one
        per field (the per-field code follows as the `else`, which also reports what is wrong)."""
        w(1, "try:")
        for j, (n, _dt, _code, _width, _target) in enumerate(run):
            w(2, f"y{j} = d[{n!r}]")
        w(1, "except KeyError:")
        w(2, "y0 = None  # a field is missing: the per-field code below says which")
        conds, parts = self.fused_terms(run)
        w(1, f"if {' and '.join(conds)}:")
        w(2, f"a = {self.join_parts(parts)}")
        w(2, f"st = {run[-1][4]}")

    @staticmethod
    def ee_of(st: CState) -> tuple[int, int] | None:
        """(code, width) of state `st`'s EE production, None when the element cannot end there."""
        return next(((p.code, st.width) for p in st.prods if p.kind == "EE"), None)

    def whole_run(self, cg: TypeGrammar) -> tuple[list[tuple], tuple[int, int]] | None:
        """(fused run, (EE code, width)) when the whole encoder of complex type `cg` is one fused run followed by
        a statically known EE: a list of such items can be appended inline, without calling `e_<type>`."""
        if cg.simple is not None or cg.attributes or not cg.fields or len(cg.fields) >= KEY_DRIVEN_MIN_FIELDS:
            return None
        states = self.compressed[cg.key]
        if free_order([st.prods for st in states]):
            return None
        run = self.fused_run(cg, states, list(cg.fields), {0})
        if len(run) != len(cg.fields):
            return None
        ee = [p for p in states[run[-1][4]].prods]
        if len(ee) != 1 or ee[0].kind != "EE":
            return None
        return run, (ee[0].code, states[run[-1][4]].width)

    def inline_items(self, w: Writer, ind: int, cg: TypeGrammar, whole: tuple, codes: list[tuple[int, int]],
                     tail: tuple[int, int] | None = None) -> None:
        """Items xs[0], xs[1], ... (one per entry of `codes`, their event codes) of a list of type `cg` (see
        `whole_run`) in one append when every item is a dict of exactly its fields in their common form;
        otherwise the items are encoded one by one through `e_<type>` (which also reports what is wrong).
        `tail`: the (code, width) of an event that follows the items (the parent's EE), appended with them."""
        run, (ee_code, ee_width) = whole
        nf = len(run)
        m = len(codes)
        w(ind, f"{', '.join(f'x{q}' for q in range(m))}, = xs")  # len(xs) == m: one unpack, no subscripts
        # exactly the fields (len) of a mapping (anything else raises TypeError); otherwise `e_<type>` says why
        w(ind, "try:")
        w(ind + 1, "if " + " and ".join(f"len(x{q}) == {nf}" for q in range(m)) + ":")
        for q in range(m):
            for j, (n, *_rest) in enumerate(run):
                w(ind + 2, f"z{q * nf + j} = x{q}[{n!r}]")
        w(ind + 1, "else:")
        w(ind + 2, "z0 = None")
        w(ind, "except (KeyError, TypeError):")
        w(ind + 1, "z0 = None")
        conds: list[str] = []
        expr = "a"
        for q, (c, wd) in enumerate(codes):
            cs, ps = self.fused_terms(run, "z", "lz", q * nf)
            conds += cs
            # item by item (Horner): every shift inside an item is a constant
            last = [(str(tail[1]), str(tail[0]))] if tail is not None and q == len(codes) - 1 else []
            expr = self.join_parts([(str(wd), str(c))] + ps + [(str(ee_width), str(ee_code))] + last, expr)
            expr = f"({expr})" if q < len(codes) - 1 else expr
        w(ind, f"if {' and '.join(conds)}:")
        w(ind + 1, f"a = {expr}")
        w(ind, "else:")
        for q, (c, wd) in enumerate(codes):
            w(ind + 1, f"i = {q}")
            w(ind + 1, f"x = x{q}")
            w(ind + 1, f"a = e_{cg.key}({_head(str(c), str(wd))}, x)")
        if tail is not None:
            w(ind + 1, _close(*tail))

    def gen_encoder(self, g: TypeGrammar) -> str:
        states = self.compressed[g.key]
        w = Writer()
        w(0, f"def e_{g.key}(a, d):")
        w(1, "if d.__class__ is not dict:")
        w(2, "d = as_map(d)")
        w(1, "st = 0")
        names = list(g.fields)
        if g.simple is not None:
            names.append("value")
        known = self.const("K", f"frozenset({tuple(sorted(names))!r})")
        ch_state_prods = [(s.id, p) for s in states for p in s.prods if p.kind == "CH"]
        cyclic = free_order([st.prods for st in states])
        # many fields: dispatch on present keys; cyclic grammars (repeated choices, e.g. xmldsig KeyInfo): keep
        # the dict's order, which is the order the elements were decoded in
        keyed = cyclic or len(g.fields) >= KEY_DRIVEN_MIN_FIELDS
        if keyed:
            order = self.const("O", repr({n: i for i, n in enumerate(g.fields)}))
            handlers = []
            all_states = set(range(len(states)))
            attrs = [a[0] for a in g.attributes]
            if attrs:  # attributes always precede the content: encode them first, in schema order
                w(1, "u = 0")
                possible = {0}
                for n in attrs:
                    w(1, f"f = {n!r}")
                    w(1, f"x = d.get({n!r})")
                    w(1, "if x is not None:")
                    w(2, "u += 1")
                    possible = self.field_code(w, 2, g, states, n, possible)
                handlers += [f"{n!r}: False" for n in attrs]
            for n in g.fields:
                if n in attrs:
                    continue
                hw = Writer()
                hname = f"h_{g.key}_{len(handlers)}"
                hw(0, f"def {hname}(a, x, st):")
                self.field_code(hw, 1, g, states, n, all_states)
                hw(1, "return a, st")
                self.extra_funcs.append("\n".join(hw.lines))
                handlers.append(f"{n!r}: {hname}")
            htab = f"_H_{g.key}"
            self.late_consts.append(f"{htab} = {{{', '.join(handlers)}}}")
            if cyclic:
                w(1, "for f in d:")
            else:
                w(1, f"for f in (d if len(d) < 2 else sorted(d, key=lambda q: {order}.get(q, 1 << 30))):")
            w(2, "x = d[f]")
            w(2, "if x is None:")
            w(3, "continue")
            w(2, f"h = {htab}.get(f)")
            w(2, "if h is None:")
            w(3, f"extra(d, {known})")
            if attrs:
                w(2, "elif h is False:")
                w(3, "continue")
            w(2, "a, st = h(a, x, st)")
            possible = all_states
        else:
            w(1, "u = 0")
            possible = {0}
            u_line = len(w.lines)
            n_required = 0
            fields = list(g.fields)
            i = 0
            while i < len(fields):
                run = self.fused_run(g, states, fields[i:], possible)
                out = Writer() if len(run) > 1 else w
                for n in fields[i:i + max(1, len(run))]:
                    out(1, f"f = {n!r}")
                    required = all(len(states[s].prods) == 1 and states[s].prods[0].name == n for s in possible)
                    # a required key is subscripted (no .get call): if it is absent, the KeyError names the
                    # field `f`, which the API reports as a missing element
                    out(1, f"x = d[{n!r}]" if required else f"x = d.get({n!r})")
                    out(1, "if x is not None:")
                    if required:
                        n_required += 1
                    else:
                        out(2, "u += 1")
                    last = g.simple is None and n == fields[-1]
                    after = self.field_code(out, 2, g, states, n, possible, known if last else None)
                    if required:  # absent: nothing else can follow, so report it here (and keep `st` static)
                        out(1, "else:")
                        out(2, "missing()")
                        after = after - possible
                    possible = after
                if len(run) > 1:  # the whole run in one append when every value takes its common form
                    self.fused_append(w, run)
                    w(1, "else:")
                    w.lines += ["    " + ln for ln in out.lines]
                i += max(1, len(run))
            w.lines[u_line - 1] = f"    u = {n_required}"
        if g.simple is not None:
            w(1, "f = 'value'")
            w(1, "x = d.get('value')")
            if not keyed:
                w(1, "if x is not None:")
                w(2, "u += 1")
            ch = {s: (p.code, states[s].width, p.target) for s, p in ch_state_prods if s in possible}
            tname = self.const("T", repr(ch))
            w(1, f"c, wd, st = {tname}[st]")
            w(1, "a = (a << wd) | c")
            assert g.simple is not None
            self.write_value(w, 1, g.simple)
            possible = possible | {t[2] for t in ch.values()}
        w(1, "f = None")
        ee = {s: (p.code, states[s].width) for s in sorted(possible) for p in states[s].prods if p.kind == "EE"}
        if len(possible) == 1 and len(ee) == 1:
            (code, width), = ee.values()
            w(1, _close(code, width))
        else:
            tname = self.const("T", repr(ee))
            w(1, f"c, wd = {tname}[st]")
            w(1, "a = (a << wd) | c")
        if not keyed:
            w(1, "if u != len(d):")
            w(2, f"extra(d, {known})")
        w(1, "return a")
        if not any("[st]" in ln or "st)" in ln for ln in w.lines):
            # nothing reads the state (no table lookup, no handler): its bookkeeping would be dead stores; error
            # reports only use `st` for a KeyError, which only a table lookup raises
            w.lines = [ln for ln in w.lines if not _ST_STORE.match(ln)]
        return "\n".join(w.lines)

    # -- whole module ----------------------------------------------------------------------------------
    def generate(self) -> tuple[str, str]:
        self.b.build_all()
        self.grammars = sorted(
            (g for g in self.b.grammars.values() if not isinstance(g.type, SimpleType)), key=lambda g: g.key
        )
        for g in self.b.grammars.values():
            self.compressed[g.key] = compress(g)
        funcs = []
        for g in self.grammars:
            funcs.append(self.gen_decoder(g))
            funcs.append(self.gen_encoder(g))
        doc = self.b.document_elements()
        names = [e.qname[1] for e in doc]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.schema}: global element local names are not unique")
        width = code_width(len(doc) + 1)
        dentries, eentries = [], []
        for i, e in enumerate(doc):
            g = self.b.grammar_for(e.type, e.qname[1])
            if isinstance(g.type, SimpleType):
                assert g.simple is not None
                dn = self.simple_decoder(g.simple)
                en = "e" + dn[1:]
            else:
                dn, en = f"d_{g.key}", f"e_{g.key}"
            dentries.append(f"({e.qname[1]!r}, {dn})")
            eentries.append(f"{e.qname[1]!r}: ({i}, {en})")
        out = [
            f'"""EXI grammar module for schema {self.schema!r}: generated by `python -m stack.exi.generate` from',
            f"{self.source}. Do not edit by hand; regenerate instead.",
            '"""',
            "# ruff: noqa",
            "from stack.exi._runtime import (",
            "    u, i, s, b, eu, ei, es, eb, und, und2, unsupported, wu, wi, ws, wb, as_int, as_map, as_list,",
            "    bad_bool, bad_enum, extra, missing, Invalid,",
            ")",
            "",
            "_fb = int.from_bytes  # bound once: a global name instead of an attribute lookup on `int` per string",
            f"SCHEMA = {self.schema!r}",
            f"DOC_WIDTH = {width}",
            f"ROOT_NAMES = {tuple(names)!r}",
            f"MESSAGE_NAMES = {self.message_names()!r}",
            "",
        ]
        out += self.consts
        out.append("")
        for f in funcs + self.extra_funcs:
            out.append(f)
            out.append("")
        out += self.late_consts
        out.append(f"_DOC_D = ({', '.join(dentries)},)")
        out.append(f"_DOC_E = {{{', '.join(eentries)}}}")
        out += [
            "",
            "",
            "def decode_document(v, r):",
            f"    r -= {width}",
            f"    c = (v >> r) & {_mask(width)}",
            f"    if c >= {len(doc)}:",
            "        unsupported('SE(*) (an element not declared in the schema) at document level')",
            "    name, fn = _DOC_D[c]",
            "    x, r = fn(v, r)",
            "    return {name: x}, r",
            "",
        ]
        return "\n".join(out), self.meta()

    def message_names(self) -> tuple[str, ...]:
        doc = self.b.document_elements()
        heads = [e for e in doc if e.qname[1] == "BodyElement"]
        if heads:
            members = self.b.schemas.substitution_members(heads[0])
            return tuple(sorted(e.qname[1] for e in members if not e.abstract))
        root_ns = self.b.schemas.docs[0].tns
        return tuple(
            e.qname[1] for e in doc if e.qname[0] == root_ns and e.qname[1].endswith(("Req", "Res")) and not e.abstract
        )

    def _close_named_types(self) -> dict[str, str]:
        """Build the grammars of every named type (and what they reach) that no element uses, so that
        xsi:type can name any type of the schema set (and the XSD built-ins). Returns Clark name -> key."""
        b = self.b
        named: dict[str, str] = {}
        candidates = list(b.schemas.named_types())
        for name in _BUILTIN_TYPE_NAMES:
            try:
                t = b.schemas.type((XS_NS, name))
                if isinstance(t, SimpleType) and datatype_of(t).kind not in _GENERIC_KINDS:
                    continue
            except XsdError:
                continue
            candidates.append(t)
        for t in candidates:
            if t.name is None or (isinstance(t, ComplexType) and t.name == (XS_NS, "anyType")):
                continue
            known = id(t) in b.grammars
            try:
                g = b.grammar_for(t, t.name[1])
            except (GrammarError, XsdError):
                if not known:
                    b.grammars.pop(id(t), None)
                continue
            named[f"{{{t.name[0]}}}{t.name[1]}"] = g.key
        b.build_reachable([(p.element.type, f"{g.label}.{p.name}") for g in list(b.grammars.values())
                           for st in g.states for p in st.productions if p.kind == "SE" and p.element is not None])
        for g in list(b.grammars.values()):
            if g.key not in self.compressed:
                self.compressed[g.key] = compress(g)
        return named

    def _string_table(self) -> tuple:
        """The initial URI and local-name partitions of the EXI string table (EXI 1.0 section 7.3.1 and
        appendix D): the four fixed URIs, then the schema namespaces sorted; local names sorted per URI."""
        names: dict[str, set[str]] = {"": set(), XML_NS: {"base", "id", "lang", "space"}, XSI_NS: {"nil", "type"},
                                      XS_NS: set(_BUILTIN_TYPE_NAMES)}
        sch = self.b.schemas
        for table in (sch._el_defs, sch._ct_defs, sch._st_defs, sch._attr_defs):  # noqa: SLF001
            for uri, local in table:
                names.setdefault(uri, set()).add(local)
        for g in self.b.grammars.values():
            for st in g.states:
                for p in st.productions:
                    if p.kind in ("SE", "AT") and p.qname is not None:
                        names.setdefault(p.qname[0], set()).add(p.qname[1])
        fixed = ["", XML_NS, XSI_NS, XS_NS]
        order = fixed + sorted(u for u in names if u not in fixed)
        return tuple((u, tuple(sorted(names.get(u, ())))) for u in order)

    def meta(self) -> str:
        """Plain-data description of the grammars: for error messages, tests, tooling, and the generic
        (slow-path) codec of `stack.exi._generic`, which handles what the generated fast path does not:
        xsi:type, xsi:nil, wildcard and undeclared content."""
        named = self._close_named_types()
        types = {}
        for g in sorted(self.b.grammars.values(), key=lambda g: g.key):
            states = []
            for st in self.compressed[g.key]:
                prods = []
                for p in st.prods:
                    ref: object = None
                    if p.kind == "SE":
                        cg = self.child(p)
                        ref = cg.key
                    elif p.dt is not None:
                        ref = _dt_tuple(p.dt)
                    prods.append((p.kind, p.name, p.code, p.target, ref, p.qname[0] if p.qname else ""))
                states.append((st.width, tuple(prods), st.run_len, st.run_name))
            types[g.key] = {
                "label": g.label,
                "simple": _dt_tuple(g.simple) if g.simple is not None else None,
                "is_simple_type": isinstance(g.type, SimpleType),
                "fields": tuple(g.fields),
                "lists": tuple(sorted(g.list_fields)),
                "attributes": tuple(a[0] for a in g.attributes),
                "free_order": free_order([st.prods for st in self.compressed[g.key]]),
                "states": tuple(states),
            }
        roots = tuple(
            (e.qname[1], e.qname[0], self.b.grammar_for(e.type, e.qname[1]).key) for e in self.b.document_elements()
        )
        body = pprint.pformat(
            {"schema": self.schema, "roots": roots, "types": types, "type_names": named,
             "string_table": self._string_table()},
            width=120, sort_dicts=True,
        )
        return (
            f'"""Grammar description for schema {self.schema!r} (generated; do not edit).\n\n'
            "TYPES[key]['states'][n] = (width, productions, run_length, run_element); a production is\n"
            "(kind, name, code, target_state, child_type_key | datatype, uri); datatype = (kind, nbits, offset,\n"
            "min, max, values, min_length, max_length). TYPE_NAMES: Clark name of every named type -> key.\n"
            'STRING_TABLE: the initial URI partition in order, each with its sorted local names."""\n'
            f"META = {body}\n"
        )


XS_NS = "http://www.w3.org/2001/XMLSchema"
_GENERIC_KINDS = ("bool", "nbit", "uint", "int", "enum", "string", "hex", "b64")  # value kinds stack.exi handles
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS = "http://www.w3.org/XML/1998/namespace"
# EXI 1.0 appendix D.3: the local names of the XML Schema namespace's initial string-table partition
_BUILTIN_TYPE_NAMES = (
    "ENTITIES", "ENTITY", "ID", "IDREF", "IDREFS", "NCName", "NMTOKEN", "NMTOKENS", "NOTATION", "Name", "QName",
    "anySimpleType", "anyType", "anyURI", "base64Binary", "boolean", "byte", "date", "dateTime", "decimal",
    "double", "duration", "float", "gDay", "gMonth", "gMonthDay", "gYear", "gYearMonth", "hexBinary", "int",
    "integer", "language", "long", "negativeInteger", "nonNegativeInteger", "nonPositiveInteger",
    "normalizedString", "positiveInteger", "short", "string", "time", "token", "unsignedByte", "unsignedInt",
    "unsignedLong", "unsignedShort",
)


_ST_STORE = re.compile(r"\s*st = (\d+|_Q\d+\[(len\(x\)|m)\])$")


_FUSABLE = ("nbit", "uint", "int", "enum", "bool", "string")


def _small_int_range(dt: Datatype) -> tuple[int, int] | None:
    """The values of an (unsigned) integer type that take one 7-bit group: its common form, if it has one."""
    lo = 0 if dt.minimum is None else max(dt.minimum, 0)
    hi = 127 if dt.maximum is None else min(dt.maximum, 127)
    return (lo, hi) if lo <= hi else None


def _walk(table: dict[int, tuple], st: int, limit: int) -> tuple[list[tuple[int, int]], list[int]]:
    """Event codes (code, width) of the first `limit` items of a list field starting in state `st` (fewer when
    the grammar allows fewer), and the state after 0, 1, ... of them (as the generic loop counts them)."""
    codes: list[tuple[int, int]] = []
    after = [st]
    k = 0
    while len(codes) < limit and st in table:
        c, wd, nx, n = table[st]
        codes.append((c, wd))
        k += 1
        if not n or k == n:
            st, k = nx, 0
        after.append(st)
    return codes, after


def _dt_tuple(dt: Datatype) -> tuple:
    return (dt.kind, dt.nbits, dt.offset, dt.minimum, dt.maximum, tuple(dt.values), dt.min_length, dt.max_length)


def _close(code: int, width: int) -> str:
    """Statement appending a statically known event code (the closing EE) to `a`."""
    return f"a = (a << {width}) | {code}" if code else f"a <<= {width}"


def _head(c: str, wd: str) -> str:
    """Expression appending event code `c` of width `wd` (literals or variable names) to `a`."""
    if wd == "0":
        return "a"
    if c == "0":
        return f"(a << {wd})"
    return f"((a << {wd}) | {c})"


def _append(c: str, wd: str, k: int, val: str) -> str:
    """Expression: `a` followed by event code `c` (width `wd`) and `k` more bits holding `val` ('' = zeros)."""
    if c.isdigit() and wd.isdigit():
        total = int(wd) + k
        const = int(c) << k
        base = f"(a << {total})" if total else "a"
        parts = [p for p in ((str(const) if const else ""), val) if p]
        return f"({base} | {' | '.join(parts)})" if parts else base
    base = f"((((a << {wd}) | {c}) << {k}))" if k else f"((a << {wd}) | {c})"
    return f"({base} | {val})" if val else base
