"""Hypothesis strategies that build valid messages by walking the generated grammar tables.

A message is produced the way an encoder would emit it: start in state 0 of the element's type grammar,
draw one of the declared productions (never wildcards or mixed text, which the codec rejects by design),
generate the child or value it needs, follow it to the next state, until EE. A per-element event budget and
a nesting depth limit steer the walk towards the shortest way out so messages stay small.
"""

from __future__ import annotations

import random
import string
from functools import cache

from hypothesis import strategies as st

from .grammar_walk import meta

MAX_EVENTS = 6  # per element, after which the walk takes the shortest way to EE
MAX_DEPTH = 7


@cache
def _distance(schema: str, key: str) -> tuple[int, ...]:
    """Per state: fewest productions to reach EE (runs count one step per iteration)."""
    states = meta(schema)["types"][key]["states"]
    inf = 1 << 30
    dist = [inf] * len(states)
    changed = True
    while changed:
        changed = False
        for i, (_w, prods, run_len, run_name) in enumerate(states):
            best = dist[i]
            for kind, name, _code, target, _ref, *_uri in prods:
                if kind == "EE":
                    best = 0
                elif kind in ("SE", "AT", "CH") and target >= 0:
                    extra = run_len if (run_len and name == run_name) else 1
                    best = min(best, dist[target] + extra)
            if best < dist[i]:
                dist[i] = best
                changed = True
    return tuple(dist)


def value_strategy(dt: tuple) -> st.SearchStrategy:
    kind, nbits, offset, lo, hi, values, min_len, max_len = dt
    if kind == "bool":
        return st.booleans()
    if kind == "nbit":
        return st.integers(offset, offset + (1 << nbits) - 1 if hi is None else hi)
    if kind == "uint":
        return st.integers(lo or 0, hi if hi is not None else 2**70)
    if kind == "int":
        return st.integers(lo if lo is not None else -(2**70), hi if hi is not None else 2**70)
    if kind == "enum":
        return st.sampled_from(values)
    if kind == "string":
        return st.text(min_size=min_len or 0, max_size=max(min_len or 0, min(max_len or 24, 24)))
    if kind in ("hex", "b64"):
        return st.binary(min_size=min_len or 0, max_size=max(min_len or 0, min(max_len or 40, 40))).map(bytes.hex)
    raise ValueError(kind)


def walk(schema: str, key: str, pick, value, depth: int = 0):  # type: ignore[no-untyped-def]
    """Build one value of type `key`: `pick(options)` chooses a production, `value(datatype)` a simple value."""
    t = meta(schema)["types"][key]
    if t["is_simple_type"]:
        return value(t["simple"])
    states = t["states"]
    dist = _distance(schema, key)
    out: dict = {}
    s, k, events = 0, 0, 0
    while True:
        _w, prods, run_len, run_name = states[s]
        options = [p for p in prods if p[0] in ("SE", "AT", "CH", "EE")]
        if not options:
            raise ValueError(f"{key}: no generatable production in state {s}")
        # shortest way out first, so hypothesis' simplest example is the smallest message
        options.sort(key=lambda p: 0 if p[0] == "EE" else 1 + dist[p[3]])
        if events >= MAX_EVENTS or depth >= MAX_DEPTH:
            best = min(0 if p[0] == "EE" else dist[p[3]] for p in options)
            options = [p for p in options if (0 if p[0] == "EE" else dist[p[3]]) == best]
        kind, name, _code, target, ref, *_uri = pick(options)
        if kind == "EE":
            return out
        v = walk(schema, ref, pick, value, depth + 1) if kind == "SE" else value(ref)
        if kind == "CH":
            out["value"] = v
        elif name in t["lists"]:
            out.setdefault(name, []).append(v)
        else:
            out[name] = v
        events += 1
        if run_len and kind == "SE" and name == run_name:
            k += 1
            if k == run_len:
                s, k = target, 0
        else:
            s, k = target, 0


@st.composite
def element_value(draw, schema: str, key: str, depth: int = 0):  # type: ignore[no-untyped-def]
    return walk(schema, key, lambda opts: draw(st.sampled_from(opts)), lambda dt: draw(value_strategy(dt)), depth)


def random_value(dt: tuple, rnd: random.Random, alphabet: str) -> object:
    kind, nbits, offset, lo, hi, values, min_len, max_len = dt
    if kind == "bool":
        return rnd.random() < 0.5
    if kind == "nbit":
        return rnd.randint(offset, offset + (1 << nbits) - 1 if hi is None else hi)
    if kind in ("uint", "int"):
        lo = lo if lo is not None else (0 if kind == "uint" else -(2**40))
        hi = hi if hi is not None else 2**40
        return rnd.choice([lo, hi, rnd.randint(lo, hi), rnd.randint(max(lo, -1000), min(hi, 1000))])
    if kind == "enum":
        return rnd.choice(values)
    n = rnd.randint(max(min_len or 0, 1), max(min_len or 1, min(max_len or 20, 20)))
    if kind == "string":
        return "".join(rnd.choice(alphabet) for _ in range(n))
    return bytes(rnd.getrandbits(8) for _ in range(n)).hex()


def random_message(schema: str, name: str, rnd: random.Random, alphabet: str = string.ascii_letters + string.digits) -> dict:
    """Plain-random counterpart of `message_strategy` (for batches outside hypothesis, e.g. Josev)."""
    def value(dt: tuple) -> object:
        return random_value(dt, rnd, alphabet)

    def build(key: str) -> object:
        return walk(schema, key, rnd.choice, value)

    return _document(schema, name, build)


def _type_of(schema: str, owner_key: str, name: str) -> str:
    for _w, prods, _n, _r in meta(schema)["types"][owner_key]["states"]:
        for kind, pname, _c, _t, ref, *_uri in prods:
            if kind == "SE" and pname == name:
                return ref  # type: ignore[no-any-return]
    raise KeyError(name)


def _document(schema: str, name: str, build):  # type: ignore[no-untyped-def]
    roots = {n: key for n, _ns, key in meta(schema)["roots"]}
    if "V2G_Message" in roots:
        v2g = roots["V2G_Message"]
        body_key = _type_of(schema, v2g, "Body")
        header = build(_type_of(schema, v2g, "Header"))
        body = build(_type_of(schema, body_key, name))
        return {"V2G_Message": {"Header": header, "Body": {name: body}}}
    return {name: build(roots[name])}


def message_strategy(schema: str, name: str) -> st.SearchStrategy:
    """A complete document carrying message `name` (V2G_Message/Header/Body for din and iso2)."""

    @st.composite
    def doc(draw):  # type: ignore[no-untyped-def]
        return _document(schema, name, lambda key: draw(element_value(schema, key)))

    return doc()


def any_message(schema: str) -> st.SearchStrategy:
    from stack.exi import message_names

    return st.one_of(*(message_strategy(schema, n) for n in message_names(schema)))
