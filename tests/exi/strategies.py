"""Hypothesis strategies that build valid messages by walking the generated grammar tables.

A message is produced the way an encoder would emit it: start in state 0 of the element's type grammar,
draw one of the declared productions (never wildcards or mixed text, which the codec rejects by design),
generate the child or value it needs, follow it to the next state, until EE. A per-element event budget and
a nesting depth limit steer the walk towards the shortest way out so messages stay small.
"""

from __future__ import annotations

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
            for kind, name, _code, target, _ref in prods:
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


@st.composite
def element_value(draw, schema: str, key: str, depth: int = 0):  # type: ignore[no-untyped-def]
    t = meta(schema)["types"][key]
    if t["is_simple_type"]:
        return draw(value_strategy(t["simple"]))
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
        kind, name, _code, target, ref = draw(st.sampled_from(options))
        if kind == "EE":
            return out
        v = draw(element_value(schema, ref, depth + 1)) if kind == "SE" else draw(value_strategy(ref))
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


def _type_of(schema: str, owner_key: str, name: str) -> str:
    for _w, prods, _n, _r in meta(schema)["types"][owner_key]["states"]:
        for kind, pname, _c, _t, ref in prods:
            if kind == "SE" and pname == name:
                return ref  # type: ignore[no-any-return]
    raise KeyError(name)


def message_strategy(schema: str, name: str) -> st.SearchStrategy:
    """A complete document carrying message `name` (V2G_Message/Header/Body for din and iso2)."""
    roots = {n: key for n, _ns, key in meta(schema)["roots"]}
    if "V2G_Message" in roots:
        v2g = roots["V2G_Message"]
        header_key = _type_of(schema, v2g, "Header")
        body_key = _type_of(schema, v2g, "Body")
        msg_key = _type_of(schema, body_key, name)
        return st.builds(
            lambda h, b: {"V2G_Message": {"Header": h, "Body": {name: b}}},
            element_value(schema, header_key),
            element_value(schema, msg_key),
        )
    return element_value(schema, roots[name]).map(lambda v: {name: v})


def any_message(schema: str) -> st.SearchStrategy:
    from stack.exi import message_names

    return st.one_of(*(message_strategy(schema, n) for n in message_names(schema)))
