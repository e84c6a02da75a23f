"""Timeline assertions: ordered/optional/repeated steps, timing bounds, failure text with the timeline slice."""

from __future__ import annotations

import pytest

from harness import assertions
from harness.assertions import (
    TimelineAssertionError,
    assert_absent,
    assert_sequence,
    assert_within,
    optional,
    repeated,
    step,
)
from harness.records import Record, Timeline
from stack.timers import SpecTimer


def make(*events: tuple[float, str, str]) -> Timeline:
    timeline = Timeline("virtual", 0.0)
    for t, layer, name in events:
        timeline.add(Record(t=t, layer=layer, name=name, src="cp"))
    return timeline


T = make((0.0, "cp", "state A"), (0.1, "cp", "oscillator"), (0.2, "cp", "state B"), (0.2, "test", "wait"),
         (0.3, "cp", "state B"), (0.5, "cp", "state C"))


def test_sequence_in_order_with_other_records_between():
    found = assert_sequence(T, ["state A", "cp:state B", "state C"])
    assert [r.t for r in found] == [0.0, 0.2, 0.5]


def test_optional_step_skipped_when_absent_and_glob_names():
    assert_sequence(T, ["state A", optional("state E"), "state [BC]", "state C"])


def test_optional_step_does_not_hide_a_later_match():
    timeline = make((0, "cp", "A"), (1, "cp", "C"), (2, "cp", "B"))
    assert_sequence(timeline, ["A", optional("B"), "C"])  # B after C cannot be used: skipping it works


def test_strict_sequence_with_repeats():
    assert_sequence(T, ["state A", "oscillator", repeated("state B"), "state C"], strict=True, layers=["cp"])
    with pytest.raises(TimelineAssertionError, match="strict sequence not found"):
        assert_sequence(T, ["state A", "oscillator", "state B", "state C"], strict=True, layers=["cp"])


def test_failure_names_requirement_steps_and_shows_the_slice(monkeypatch):
    monkeypatch.setattr(assertions, "current_requirements", ("CCSHIL-CP-EV-04",))
    timeline = make(*[(i * 0.1, "cp", f"state {'AB'[i % 2]}") for i in range(40)])
    with pytest.raises(TimelineAssertionError) as info:
        assert_sequence(timeline, ["state A", "state B", "state C"])
    text = str(info.value)
    assert text.startswith("requirement CCSHIL-CP-EV-04 not met\n")
    assert "✓ 1. state A" in text and "✓ 2. state B" in text and "✗ 3. state C" in text
    assert ">> #" in text
    assert len([line for line in text.splitlines() if line.strip().startswith("#")]) <= 1 + 8 + 12 + 1
    assert timeline.records[-1].name == "assert" and timeline.records[-1].body["outcome"] == "fail"


def test_within_passes_and_fails_with_the_elapsed_time():
    assert assert_within(T, "oscillator", "state C", max_ms=400) == pytest.approx(400)
    with pytest.raises(TimelineAssertionError, match=r"state C came 400.0 ms after oscillator, allowed ≤ 300 ms "
                                                     r"\(T_x \(0.3 s\)\)"):
        assert_within(T, "oscillator", "state C", limit=SpecTimer("T_x", 0.3))
    with pytest.raises(TimelineAssertionError, match="required ≥ 500 ms"):
        assert_within(T, "oscillator", "state C", min_ms=500)
    with pytest.raises(TimelineAssertionError, match="state D never happened after oscillator"):
        assert_within(T, "oscillator", "state D", max_ms=1)


def test_within_from_an_anchor_index():
    assert assert_within(T, "state B", "state C", max_ms=1000, after=4) == pytest.approx(200)


def test_absent_and_step_conditions():
    assert_absent(T, "state D")
    with pytest.raises(TimelineAssertionError, match=r"state C \(src=cp\) happened \(#6"):
        assert_absent(T, step("state C", src="cp"), after=2)
    assert_absent(T, step("state C", src="other"))
    assert step("cp:state B").layer == "cp" and step("x:y").name == "x:y"
