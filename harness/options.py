"""Declarative option schemas for rig-file tables, checked with errors that name the file, key path and problem.

A driver declares its options as `{"resource": Opt(str, required=True, doc=...)}`; the rig loader validates the
driver's table against it, fills in defaults, and reports every problem at once, e.g.

    rigs/ioniq.toml: cp.channel: expected an integer, got "one"
    rigs/ioniq.toml: cp.resorce: unknown key (known: channel, high_v, low_v, measure, resource, ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class RigError(ValueError):
    """A rig file that cannot be used. `problems` are (key path, problem) pairs; str() gives one line each."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source, self.problems = source, problems
        super().__init__("\n".join(f"{source}: {path}: {problem}" if path else f"{source}: {problem}"
                                   for path, problem in problems))


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
               dict: "a table"}


@dataclass(frozen=True)
class Opt:
    """One option: its type (str, int, float, bool, list, dict), whether it is required, its default, the
    allowed `choices`, a nested `schema` for tables, the type of list `items`, and a one-line `doc`."""

    type: type
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None
    doc: str = ""
    schema: dict[str, Opt] | None = None
    items: type | None = None
    min: float | None = None


def _type_ok(value: Any, expected: type) -> bool:
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def validate(table: Any, schema: dict[str, Opt], path: str, problems: list[tuple[str, str]],
             extra_ok: bool = False) -> dict[str, Any]:
    """Check `table` against `schema`, appending (key path, problem) to `problems`; return it with defaults."""
    if not isinstance(table, dict):
        problems.append((path, f"expected a table, got {_show(table)}"))
        return {}
    out: dict[str, Any] = {}
    for key, value in table.items():
        key_path = f"{path}.{key}" if path else key
        opt = schema.get(key)
        if opt is None:
            if extra_ok:
                out[key] = value
                continue
            known = ", ".join(sorted(schema)) or "none"
            problems.append((key_path, f"unknown key (known: {known})"))
            continue
        out[key] = check_value(value, opt, key_path, problems)
    for key, opt in schema.items():
        if key in out:
            continue
        key_path = f"{path}.{key}" if path else key
        if opt.required:
            problems.append((key_path, f"missing (required{': ' + opt.doc if opt.doc else ''})"))
        elif opt.type is dict and opt.schema is not None and opt.default is not None:
            out[key] = validate(opt.default, opt.schema, key_path, problems)  # absent table: its defaults
        else:
            out[key] = opt.default
    return out


def check_value(value: Any, opt: Opt, path: str, problems: list[tuple[str, str]]) -> Any:
    if not _type_ok(value, opt.type):
        problems.append((path, f"expected {_TYPE_NAMES.get(opt.type, opt.type.__name__)}, got {_show(value)}"))
        return opt.default
    if opt.choices is not None and value not in opt.choices:
        problems.append((path, f"{_show(value)} is not one of {', '.join(_show(c) for c in opt.choices)}"))
        return opt.default
    if opt.min is not None and value < opt.min:
        problems.append((path, f"{value!r} is below the minimum {opt.min:g}"))
        return opt.default
    if opt.type is float:
        value = float(value)
    if opt.type is dict and opt.schema is not None:
        return validate(value, opt.schema, path, problems)
    if opt.type is list and opt.items is not None:
        good = []
        for index, item in enumerate(value):
            if _type_ok(item, opt.items) and opt.items is dict and opt.schema is not None:
                good.append(validate(item, opt.schema, f"{path}[{index}]", problems))
            elif _type_ok(item, opt.items):
                good.append(item)
            else:
                name = _TYPE_NAMES.get(opt.items, opt.items.__name__)
                problems.append((f"{path}[{index}]", f"expected {name}, got {_show(item)}"))
        return good
    return value
