"""The report model: requirement matrix, verdicts, the requirement-list parser and the raw recording."""

from __future__ import annotations

import json

import pytest

from reports.model import Failure, RequirementRow, Run, TestResult, requirement_matrix, slug
from reports.recording import RecordingError, load_run, save_run
from reports.requirements import clean_id, parse_requirements


def t(nodeid, outcome, reqs, **kw):
    return TestResult(nodeid, outcome, requirements=reqs, **kw)


def test_matrix_statuses_cover_pass_fail_skipped_not_covered_and_uncatalogued():
    rows = [RequirementRow("A-1"), RequirementRow("A-2"), RequirementRow("A-3"),
            RequirementRow("A-4", coverage_note="needs a power stage"), RequirementRow("A-5", set_aside=True),
            RequirementRow("A-6")]
    tests = [t("x::a", "passed", ["A-1", "A-2"]), t("x::b", "failed", ["A-2"]),
             t("x::c", "skipped", ["A-3"], skip_reason="needs cp-measurement"),
             t("x::d", "skipped", ["A-6"], skip_reason="r1"), t("x::e", "passed", ["A-6"]),
             t("x::f", "error", ["Z-9"])]
    matrix = {row.id: row for row in requirement_matrix(rows, tests)}
    assert [r.id for r in requirement_matrix(rows, tests)] == ["A-1", "A-2", "A-3", "A-4", "A-5", "A-6", "Z-9"]
    assert matrix["A-1"].status == "pass"
    assert matrix["A-2"].status == "fail" and [x.nodeid for x in matrix["A-2"].tests] == ["x::a", "x::b"]
    assert matrix["A-3"].status == "skipped" and matrix["A-3"].reason == "needs cp-measurement"
    assert matrix["A-4"].status == "not covered" and matrix["A-4"].reason == "needs a power stage"
    assert matrix["A-5"].reason == "set aside"
    assert matrix["A-6"].status == "pass" and "1 covering test(s) skipped" in matrix["A-6"].reason
    assert matrix["Z-9"].status == "fail" and matrix["Z-9"].row is None


def test_verdict_and_counts():
    run = Run(tool="x")
    assert run.verdict == "NO TESTS"
    run.tests = [t("a", "skipped", [])]
    assert run.verdict == "SKIPPED"
    run.tests.append(t("b", "passed", []))
    assert run.verdict == "PASS"
    run.tests.append(t("c", "xpassed", []))
    assert run.verdict == "FAIL" and run.counts()["xpassed"] == 1 and len(run.failures) == 1


def test_unknown_outcome_is_refused():
    with pytest.raises(ValueError, match="unknown outcome 'weird'"):
        TestResult("a::b", "weird")


def test_slug_is_safe_and_distinct():
    a, b = slug("t.py::test[a/b]"), slug("t.py::test[a_b]")
    assert a != b
    assert all(c.isalnum() or c in "._-" for c in a)


def test_failure_headline_names_the_requirement():
    assert Failure("V2G2-1", "too slow").headline == "V2G2-1: too slow"
    assert Failure(None, "too slow").headline == "too slow"


REQUIREMENTS = """# Requirements

Intro prose | with a pipe that is not a table.

| Req ID | Source | Demands | Covered by |
|:------|--------|---------|-----------|
| V2G-DC-116 | DIN 70121 | After an error the SECC closes the TCP connection | test_close |
| `[V2G2-538]` | ISO 15118-2 | escaped \\| pipe | — |
| [V2G3-M06-07](#v2g3) | ISO 15118-3 | link form | |
| **CCSHIL-CP-001** | ours | bold | test_a |
| IEC61851-1:2017 Table A.6 Seq 8.1 | IEC 61851-1 | spaces in the ID | test_b |
| (clause not cited) | x | not an ID | |
| V2G-DC-116 | dup | duplicate keeps the first | |

| Standard | IDs |
|---|---|
| ISO15118-2 | 136 |

## Set aside (PnC)

- V2G2-690: certificate expiry
* **V2G20-1582** — -20 later
- not an id here
"""


def test_requirements_parser_reads_tables_bullets_and_set_aside():
    rows = parse_requirements(REQUIREMENTS)
    assert [r.id for r in rows] == ["V2G-DC-116", "V2G2-538", "V2G3-M06-07", "CCSHIL-CP-001",
                                    "IEC61851-1:2017 Table A.6 Seq 8.1", "V2G2-690", "V2G20-1582"]
    first = rows[0]
    assert (first.text, first.source, first.coverage_note) == (
        "After an error the SECC closes the TCP connection", "DIN 70121", "test_close")
    assert rows[1].text == "escaped | pipe"
    assert not any(r.set_aside for r in rows[:5])
    assert rows[5].set_aside and rows[5].text == "certificate expiry"
    assert rows[6].set_aside and rows[6].text == "-20 later"
    assert rows[0].line == 7


@pytest.mark.parametrize("cell,expected", [("V2G2-123", "V2G2-123"), ("ID", None), ("`TT_match_sequence`",
                                           "TT_match_sequence"), ("", None), ("Total", None),
                                          ("[V2G-DC-1]", "V2G-DC-1")])
def test_clean_id(cell, expected):
    assert clean_id(cell) == expected


def test_recording_round_trip(tmp_path):
    run = Run(tool="ccs-hil 9", started=10.0, finished=12.5, argv=["pytest", "-x"])
    run.tests = [t("a::b", "failed", ["R-1"], failure=Failure("R-1", "why", "detail", "call"), folder="tests/a"),
                 t("a::c", "skipped", [], skip_reason="needs x")]
    run.dut.evseid.append("DE*ABC")
    save_run(tmp_path, run)
    back = load_run(tmp_path)
    assert [x.to_dict() for x in back.tests] == [x.to_dict() for x in run.tests]
    assert back.duration == 2.5 and back.dut.evseid == ["DE*ABC"] and back.argv == ["pytest", "-x"]
    assert back.tests[0].timeline() == []  # no timeline file: empty, not an error


@pytest.mark.parametrize("content,message", [
    (None, "no such file"),
    ("{not json", "not JSON"),
    ('{"format": "other"}', "not a ccs-hil recording"),
    ('{"format": "ccs-hil-recording", "version": 99}', "recording version 99"),
    ('{"format": "ccs-hil-recording", "version": 1, "tests": [{"outcome": "passed"}]}', "tests\\[0\\]"),
])
def test_bad_recordings_name_file_and_problem(tmp_path, content, message):
    if content is not None:
        (tmp_path / "run.json").write_text(content)
    with pytest.raises(RecordingError, match=message):
        load_run(tmp_path)


def test_unreadable_timeline_is_a_recording_error(tmp_path):
    run = Run(tool="x", tests=[t("a::b", "passed", [], files={"timeline": "tl.jsonl"})])
    save_run(tmp_path, run)
    (tmp_path / "tl.jsonl").write_text('{"t": 0, "layer": "nope", "name": "x"}\n')
    with pytest.raises(RecordingError, match="tl.jsonl:1: unknown layer 'nope'"):
        load_run(tmp_path).tests[0].timeline()
    assert json.loads((tmp_path / "run.json").read_text())["version"] == 1


CSV = """id,standard,role,topic,wire_testable,paraphrase,sources
CCSHIL-CP-SE-01,ccs-hil,SECC,control pilot / idle,yes,"Without a vehicle the EVSE holds +12 V, no PWM.","IEC 61851-1 Annex A"
V2G-DC-116,DIN70121,SECC,x,yes,"csv text","EVerest"
V2G3-A09-19,ISO15118-3,EVCC,y,no,"averaging","pyslac"
"""


def test_catalogue_merges_markdown_and_csv_and_round_trips(tmp_path):
    from reports.requirements import load_catalogue, parse_requirements_csv, render_requirements

    rows = parse_requirements_csv(CSV)
    assert [r.id for r in rows] == ["CCSHIL-CP-SE-01", "V2G-DC-116", "V2G3-A09-19"]
    assert rows[0].source == "ccs-hil; IEC 61851-1 Annex A" and rows[2].coverage_note == "not observable on the wire"
    (tmp_path / "REQUIREMENTS.md").write_text("| ID | Demands |\n|---|---|\n| V2G-DC-116 | |\n| V2G2-1 | a \\| b |\n")
    (tmp_path / "requirements.csv").write_text(CSV)
    merged, sources = load_catalogue(tmp_path)
    assert [r.id for r in merged] == ["V2G-DC-116", "V2G2-1", "CCSHIL-CP-SE-01", "V2G3-A09-19"]
    assert merged[0].text == "csv text"  # enriched from the CSV
    assert len(sources) == 2
    merged[1].set_aside = True
    back = parse_requirements(render_requirements(merged, sources))
    assert [(r.id, r.text, r.source, r.coverage_note, r.set_aside) for r in back] == \
        [(r.id, r.text, r.source, r.coverage_note, r.set_aside) for r in merged]
