"""Assertions over a timeline, whose failures show the part of the timeline that matters.

    assert_sequence(timeline, ["state B", "cp:oscillator", optional("state E"), "state C"])
    assert_within(timeline, "oscillator", step("state C", src="cp"), max_ms=5000)
    assert_absent(timeline, "state C", after=pwm_record)

A step is a record name (glob patterns allowed: "state *"), optionally prefixed by its layer ("cp:state C"), or a
`Step` with more conditions (`src`, `dst`, `dir`, a `where` predicate, `body` items). `assert_sequence` finds
the steps in order; other records may come in between unless `strict=True` (then, among the records of the
steps' layers, nothing else may appear; `repeated(...)` steps match one or more in a row, `optional(...)` steps
zero or one). On failure an `AssertionError` names the requirement of the running test (its `requirement`
marker) and prints the expected steps with what was found and the surrounding slice of the timeline. Every
assertion is also recorded on the timeline (`test` layer, name `assert`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.records import LAYERS, Record, Timeline
from stack.timers import SpecTimer

# Set by the pytest plugin while a test runs, so failures can name what the test checks.
current_requirements: tuple[str, ...] = ()
CONTEXT_BEFORE, CONTEXT_AFTER = 8, 12


class TimelineAssertionError(AssertionError):
    """An assertion over the timeline failed; the message carries the timeline slice."""


@dataclass(frozen=True)
class Step:
    name: str | None = None
    layer: str | None = None
    optional: bool = False
    repeat: bool = False
    src: str | None = None
    dst: str | None = None
    dir: str | None = None
    body: dict[str, Any] = field(default_factory=dict)
    where: Callable[[Record], bool] | None = None

    def matches(self, record: Record) -> bool:
        if self.layer is not None and record.layer != self.layer:
            return False
        if self.name is not None and not fnmatch.fnmatchcase(record.name, self.name):
            return False
        for key in ("src", "dst", "dir"):
            wanted = getattr(self, key)
            if wanted is not None and getattr(record, key) != wanted:
                return False
        if self.body:
            if not isinstance(record.body, dict):
                return False
            if any(record.body.get(k) != v for k, v in self.body.items()):
                return False
        return self.where is None or self.where(record)

    def label(self) -> str:
        text = f"{self.layer}:{self.name}" if self.layer else str(self.name)
        conditions = [f"{k}={getattr(self, k)}" for k in ("src", "dst", "dir") if getattr(self, k) is not None]
        conditions += [f"{k}={v!r}" for k, v in self.body.items()]
        if self.where is not None:
            conditions.append(getattr(self.where, "__name__", "where"))
        if conditions:
            text += f" ({', '.join(conditions)})"
        if self.optional:
            text = f"[optional] {text}"
        if self.repeat:
            text += " (1+)"
        return text


StepLike = str | Step


def step(spec: StepLike, **kw: Any) -> Step:
    """A `Step` from "name" or "layer:name", with extra conditions as keywords."""
    if isinstance(spec, Step):
        return Step(**{**spec.__dict__, **kw}) if kw else spec
    layer, _, name = spec.partition(":")
    if name and layer in LAYERS:
        return Step(name=name, layer=layer, **kw)
    return Step(name=spec, **kw)


def optional(spec: StepLike, **kw: Any) -> Step:
    return step(spec, optional=True, **kw)


def repeated(spec: StepLike, **kw: Any) -> Step:
    return step(spec, repeat=True, **kw)


# ----------------------------------------------------------------------------------------------- failure text


def _requirement_line() -> str:
    if not current_requirements:
        return ""
    return f"requirement {', '.join(current_requirements)} not met\n"


def fail_with_timeline(timeline: Timeline, message: str, mark: int | None = None,
                       start: int | None = None, stop: int | None = None) -> None:
    """Raise a `TimelineAssertionError` with `message`, the requirement and a slice around `mark`."""
    __tracebackhide__ = True
    record_assert(timeline, "fail", message.splitlines()[0])
    mark = len(timeline) - 1 if mark is None else mark
    first = max(1, (start if start is not None else mark) - CONTEXT_BEFORE)
    last = min(len(timeline), (stop if stop is not None else mark) + CONTEXT_AFTER + 1)
    shown = render(timeline, first, last, mark)
    more = f"\n   ... {len(timeline) - last} more records" if last < len(timeline) else ""
    raise TimelineAssertionError(f"{_requirement_line()}{message}\n\ntimeline (#{first}–#{last - 1} of "
                                 f"{len(timeline) - 1}, clock {timeline.clock}):\n{shown}{more}")


def _digest(record: Record) -> str:
    parts = []
    if record.src or record.dst:
        parts.append(f"{record.src or ''}→{record.dst or ''}" if record.dst else f"{record.src}")
    if isinstance(record.body, dict):
        for key, value in record.body.items():
            if value is None or key in ("requirements",):
                continue
            if isinstance(value, float):
                value = f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
            parts.append(f"{key}={value}")
    elif record.body is not None:
        parts.append(str(record.body))
    text = " ".join(str(p) for p in parts)
    return text if len(text) <= 100 else text[:99] + "…"


def render(timeline: Timeline, start: int, stop: int, mark: int | None = None) -> str:
    """Like `Timeline.render`, with who sent it and the body's main fields on each line."""
    lines = []
    for index in range(max(start, 1), min(stop, len(timeline))):
        record = timeline.records[index]
        flag = ">>" if index == mark else "  "
        lines.append(f"{flag} #{index:<4} {record.summary():<40} {_digest(record)}".rstrip())
    return "\n".join(lines)


def record_assert(timeline: Timeline, outcome: str, detail: str) -> None:
    t = timeline.records[-1].t if len(timeline) > 1 else 0.0
    timeline.add(Record(t=t, layer="test", name="assert", src="test",
                        body={"outcome": outcome, "detail": detail,
                              **({"requirements": list(current_requirements)} if current_requirements else {})}))


def _index_of(timeline: Timeline, anchor: Record | int | None) -> int:
    if anchor is None:
        return 1
    if isinstance(anchor, int):
        return anchor
    for index, record in enumerate(timeline.records):
        if record is anchor:
            return index + 1
    raise ValueError("anchor record is not on this timeline")


# ----------------------------------------------------------------------------------------------- sequence


def assert_sequence(timeline: Timeline, steps: Sequence[StepLike], *, strict: bool = False,
                    layers: Sequence[str] | None = None, after: Record | int | None = None) -> list[Record]:
    """Find `steps` in order (from `after`, a record or index); return the matched records."""
    __tracebackhide__ = True
    wanted = [step(s) for s in steps]
    if layers is None:
        named = {s.layer for s in wanted if s.layer}
        layers = sorted(named) if named else None
    begin = _index_of(timeline, after)
    candidates = [(i, r) for i, r in enumerate(timeline.records) if i >= begin and i > 0
                  and (layers is None or r.layer in layers)]
    best = {"step": -1, "pos": 0}
    memo: dict[tuple[int, int, bool], list[int] | None] = {}

    def search(si: int, pos: int, continuing: bool) -> list[int] | None:
        key = (si, pos, continuing)
        if key in memo:
            return memo[key]
        result = _search(si, pos, continuing)
        memo[key] = result
        return result

    def _search(si: int, pos: int, continuing: bool) -> list[int] | None:
        if si > best["step"] or (si == best["step"] and pos > best["pos"]):
            best["step"], best["pos"] = si, pos
        if si == len(wanted):
            return [] if (not strict or pos == len(candidates)) else None
        current = wanted[si]
        if continuing:  # a repeated step may take the next record too, or hand over to the next step
            if pos < len(candidates) and current.matches(candidates[pos][1]):
                found = search(si, pos + 1, True)
                if found is not None:
                    return found
            return search(si + 1, pos, False)
        if current.optional:
            found = search(si + 1, pos, False)
            if found is not None:
                return found
        scan = range(pos, len(candidates)) if not strict else range(pos, min(pos + 1, len(candidates)))
        for p in scan:
            if current.matches(candidates[p][1]):
                rest = search(si, p + 1, True) if current.repeat else search(si + 1, p + 1, False)
                if rest is not None:
                    return [candidates[p][0], *rest]
        return None

    found = search(0, 0, False)
    if found is not None:
        matched = [timeline.records[i] for i in found]
        record_assert(timeline, "pass", f"sequence {' → '.join(s.label() for s in wanted)}")
        return matched
    lines = []
    reached = best["step"]
    for index, s in enumerate(wanted):
        flag = "✓" if index < reached else ("✗" if index == reached else "·")
        lines.append(f"  {flag} {index + 1}. {s.label()}")
    mark_pos = min(best["pos"], len(candidates) - 1)
    mark = candidates[mark_pos][0] if candidates else len(timeline) - 1
    how = "strict " if strict else ""
    where = f" after #{begin}" if after is not None else ""
    scope = f" among layers {', '.join(layers)}" if layers else ""
    fail_with_timeline(timeline, f"{how}sequence not found{where}{scope}: step {reached + 1} "
                       f"({wanted[min(reached, len(wanted) - 1)].label()}) is missing\n" + "\n".join(lines),
                       mark=mark)
    return []  # unreachable


# ----------------------------------------------------------------------------------------------- timing


def first(timeline: Timeline, spec: StepLike, after: Record | int | None = None) -> Record | None:
    wanted = step(spec)
    begin = _index_of(timeline, after)
    for record in timeline.records[begin:]:
        if wanted.matches(record):
            return record
    return None


def assert_within(timeline: Timeline, a: StepLike, b: StepLike, *, max_ms: float | None = None,
                  limit: SpecTimer | None = None, min_ms: float | None = None,
                  after: Record | int | None = None) -> float:
    """The first `b` after the first `a` (from `after`) comes within `max_ms` (or `limit`) and not before
    `min_ms`; returns the time between them in ms."""
    __tracebackhide__ = True
    if max_ms is None and limit is not None:
        max_ms = limit.seconds * 1000.0
    start = first(timeline, a, after)
    if start is None:
        fail_with_timeline(timeline, f"{step(a).label()} never happened" +
                           (f" after #{_index_of(timeline, after)}" if after is not None else ""))
    assert start is not None
    start_index = _index_of(timeline, start)
    end = first(timeline, b, start_index)
    if end is None:
        fail_with_timeline(timeline, f"{step(b).label()} never happened after {step(a).label()} "
                           f"(#{start_index - 1}, t={start.t:.4f})", mark=start_index - 1)
    assert end is not None
    end_index = _index_of(timeline, end) - 1
    elapsed = (end.t - start.t) * 1000.0
    named = f" ({limit})" if limit is not None else ""
    if max_ms is not None and elapsed > max_ms + 1e-6:
        fail_with_timeline(timeline, f"{step(b).label()} came {elapsed:.1f} ms after {step(a).label()}, "
                           f"allowed ≤ {max_ms:g} ms{named}", mark=end_index, start=start_index - 1)
    if min_ms is not None and elapsed < min_ms - 1e-6:
        fail_with_timeline(timeline, f"{step(b).label()} came {elapsed:.1f} ms after {step(a).label()}, "
                           f"required ≥ {min_ms:g} ms", mark=end_index, start=start_index - 1)
    record_assert(timeline, "pass", f"{step(b).label()} {elapsed:.1f} ms after {step(a).label()}")
    return elapsed


def assert_absent(timeline: Timeline, spec: StepLike, *, after: Record | int | None = None,
                  before: Record | int | None = None) -> None:
    """No record matches `spec` between `after` and `before` (records or indices; default: whole timeline)."""
    __tracebackhide__ = True
    wanted = step(spec)
    begin = _index_of(timeline, after)
    end = _index_of(timeline, before) - 1 if before is not None else len(timeline)
    for index in range(max(begin, 1), end):
        if wanted.matches(timeline.records[index]):
            fail_with_timeline(timeline, f"{wanted.label()} happened (#{index}, t={timeline.records[index].t:.4f}) "
                               "where it must not", mark=index, start=begin)
    record_assert(timeline, "pass", f"no {wanted.label()}")
