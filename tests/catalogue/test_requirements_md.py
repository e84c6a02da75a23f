"""testcases/REQUIREMENTS.md is generated, never stale; testcases/requirements.csv keeps the shared rows as
received and our own IDs well-formed; the generator refuses IDs the CSV lacks and sets the right rows aside."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from harness.catalogue.requirements import (
    CSV_PATH,
    MD_PATH,
    Row,
    UnknownRequirements,
    aside_reason,
    generate,
    read_csv,
    render,
)
from harness.catalogue.summary import table
from reports.requirements import load_catalogue

REPO = Path(__file__).resolve().parents[2]
SHARED = Path("/work/shared/requirements.csv")  # the project's shared notes (not part of the repository)


def test_requirements_md_is_up_to_date():
    current = (REPO / MD_PATH).read_text(encoding="utf-8")
    assert current == generate(REPO), f"{MD_PATH} is stale: run python -m harness.catalogue requirements"


def test_the_csv_is_well_formed_and_our_ids_are_grouped_and_sorted():
    with open(REPO / CSV_PATH, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["id", "standard", "role", "topic", "wire_testable", "paraphrase", "sources", "note"]
        rows = list(reader)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicate IDs"
    ours = [r for r in rows if r["standard"] == "ccs-hil"]
    assert all(re.fullmatch(r"CCSHIL-[A-Z0-9]+(-[A-Z0-9]+)+", r["id"]) for r in ours), "own IDs: CCSHIL-<AREA>-..."
    assert [r["id"] for r in ours] == sorted(r["id"] for r in ours)
    assert rows[-len(ours):] == ours, "our own IDs come after the public ones"
    assert all(r["paraphrase"] and r["sources"] and r["wire_testable"] in ("yes", "no") for r in rows)


@pytest.mark.skipif(not SHARED.exists(), reason="the shared requirements.csv is not on this machine")
def test_public_rows_are_the_shared_csv_as_received():
    with open(SHARED, encoding="utf-8", newline="") as handle:
        shared = list(csv.DictReader(handle))
    with open(REPO / CSV_PATH, encoding="utf-8", newline="") as handle:
        ours = {r["id"]: r for r in csv.DictReader(handle)}
    for row in shared:
        mine = {k: v for k, v in ours[row["id"]].items() if k != "note"}
        assert mine == row


def test_reports_read_the_generated_file():
    rows, used = load_catalogue(REPO / "testcases")
    by_id = {row.id: row for row in rows}
    assert str(REPO / MD_PATH) in used
    assert by_id["V2G2-697"].set_aside and "PnC" in by_id["V2G2-697"].coverage_note  # GenChallenge length
    assert by_id["V2G-DC-548"].set_aside and "unclear" in by_id["V2G-DC-548"].coverage_note


def test_a_cited_id_the_csv_lacks_is_an_error():
    rows = [Row("V2G-DC-1", "DIN70121", "SECC", "t", True, "p", "s", "")]
    tests = [{"nodeid": "testcases/x/test_a.py::test_a", "path": "testcases/x/test_a.py", "name": "test_a",
              "requirements": ["V2G-DC-1", "CCSHIL-X-9"], "faults": ["f"], "dut_role": "evse"}]
    with pytest.raises(UnknownRequirements, match="CCSHIL-X-9"):
        render(rows, tests)
    text = render(rows, tests[:0] + [{**tests[0], "requirements": ["V2G-DC-1"]}])
    assert "| V2G-DC-1 | DIN70121 | p | s | x/test_a.py::test_a |" in text


@pytest.mark.parametrize(("row", "why"), [
    (Row("A-1", "ISO15118-2", "SECC", "PnC", True, "x", "s", ""), "PnC"),
    (Row("A-2", "ISO15118-2", "SECC", "t", True, "Unclear from sources: x", "s", ""), "unclear"),
    (Row("A-3", "ISO15118-2", "SECC", "t", False, "x", "s", ""), "not observable"),
    (Row("A-4", "ISO15118-20", "SECC", "t", True, "x", "s", ""), "ISO 15118-20"),
    (Row("A-5", "DIN70121", "SECC", "t", True, "x", "s", "set aside: needs a power meter"), "needs a power meter"),
    (Row("A-6", "ISO15118-2", "SECC", "t", True, "ReceiptRequired true only in PnC; under EIM false", "s", ""), None),
])
def test_set_aside_reasons(row, why):
    reason = aside_reason(row)
    assert (reason is None) if why is None else (why in reason)


def test_count_table_per_area_and_role():
    rows = {r.id: r for r in read_csv(REPO / CSV_PATH)}
    tests = [{"path": "testcases/din70121/dut_evse/test_a.py", "dut_role": "evse", "requirements": ["V2G-DC-391"]},
             {"path": "testcases/din70121/dut_pev/test_b.py", "dut_role": "pev", "requirements": ["CCSHIL-DIN-CD-01"]},
             {"path": "testcases/cp/test_c.py", "dut_role": "pev", "requirements": ["CCSHIL-CP-EV-01"]}]
    text = table(tests, rows)
    assert "| din70121 | 1 | 1 | 2 | 2 | 1 |" in text and "| cp | 0 | 1 | 1 | 1 | 0 |" in text
    assert "| **all** | 1 | 2 | 3 | 3 | 1 |" in text
