"""Helpers that walk messages together with the generated grammar description (`<schema>_meta`).

Used to flatten decoded messages for comparison with the pyPLC reference text, to convert between our dict
model and Josev's JSON (which fields are base64Binary), and by the hypothesis strategies.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from functools import cache


@cache
def meta(schema: str) -> dict:
    return importlib.import_module(f"stack.exi._grammars.{schema}_meta").META  # type: ignore[no-any-return]


@cache
def fields_of(schema: str, key: str) -> dict[str, tuple[str, object]]:
    """name -> ("SE", child type key) | ("AT", datatype) | ("CH", datatype) for one type grammar."""
    t = meta(schema)["types"][key]
    out: dict[str, tuple[str, object]] = {}
    for _w, prods, _n, _r in t["states"]:
        for kind, name, _code, _target, ref, *_uri in prods:
            if kind in ("SE", "AT"):
                out[name] = (kind, ref)
    if t["simple"] is not None and not t["is_simple_type"]:
        out["value"] = ("CH", t["simple"])
    return out


def root_key(schema: str, root: str) -> str:
    for name, _ns, key in meta(schema)["roots"]:
        if name == root:
            return key  # type: ignore[no-any-return]
    raise KeyError(root)


def leaves(schema: str, key: str, value: object, path: tuple = ()) -> Iterator[tuple[tuple, object, tuple]]:
    """Yield (path, value, datatype) for every simple value of `value` (an instance of type `key`)."""
    t = meta(schema)["types"][key]
    if t["is_simple_type"]:
        items = value if isinstance(value, list) else [value]
        for v in items:
            yield path, v, t["simple"]
        return
    assert isinstance(value, dict), (path, value)
    f = fields_of(schema, key)
    for name, v in value.items():
        kind, ref = f[name]
        vals = v if isinstance(v, list) and name in t["lists"] else [v]
        for item in vals:
            if kind == "SE":
                yield from leaves(schema, ref, item, path + (name,))  # type: ignore[arg-type]
            else:
                yield path + (name,), item, ref  # type: ignore[misc]


def map_values(schema: str, key: str, value: object, fn) -> object:  # type: ignore[no-untyped-def]
    """Copy of `value` with every simple value replaced by fn(value, datatype)."""
    t = meta(schema)["types"][key]
    if t["is_simple_type"]:
        return fn(value, t["simple"])
    f = fields_of(schema, key)
    out = {}
    for name, v in value.items():  # type: ignore[union-attr]
        kind, ref = f[name]
        if name not in t["lists"] and isinstance(v, list) and len(v) == 1:
            v = v[0]  # Josev's JSON wraps some single elements of mixed-content (xmldsig) types in a list
        if name in t["lists"] and isinstance(v, list):
            out[name] = [map_values(schema, ref, x, fn) if kind == "SE" else fn(x, ref) for x in v]  # type: ignore[arg-type]
        else:
            out[name] = map_values(schema, ref, v, fn) if kind == "SE" else fn(v, ref)  # type: ignore[arg-type]
    return out
