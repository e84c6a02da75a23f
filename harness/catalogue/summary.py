"""How big the catalogue is: tests per area and DUT role, and the requirement IDs they cite (for closing notes).

    python -m harness.catalogue count [PATH ...]
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.catalogue.faultcheck import REPO, inventory
from harness.catalogue.requirements import CSV_PATH, read_csv


def area_of(test: dict[str, Any]) -> str:
    parts = test["path"].split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "testcases" else parts[0]


def table(tests: list[dict[str, Any]], rows: dict[str, Any] | None = None) -> str:
    rows = rows or {}
    counts: dict[tuple[str, str], int] = defaultdict(int)
    ids: dict[str, set[str]] = defaultdict(set)
    for test in tests:
        role = test.get("dut_role") or "-"
        counts[(area_of(test), role)] += 1
        ids[area_of(test)].update(test["requirements"])
    areas = sorted({a for a, _ in counts})
    out = ["| area | DUT charger (evse) | DUT car (pev) | total | requirement IDs | public wire-testable IDs |",
           "|---|---|---|---|---|---|"]
    for area in areas:
        evse, pev = counts.get((area, "evse"), 0), counts.get((area, "pev"), 0)
        total = sum(v for (a, _), v in counts.items() if a == area)
        public = {i for i in ids[area] if i in rows and rows[i].wire_testable and rows[i].standard != "ccs-hil"}
        out.append(f"| {area} | {evse} | {pev} | {total} | {len(ids[area])} | {len(public)} |")
    every = set().union(*ids.values()) if ids else set()
    public = {i for i in every if i in rows and rows[i].wire_testable and rows[i].standard != "ccs-hil"}
    out.append(f"| **all** | {sum(v for (_, r), v in counts.items() if r == 'evse')} | "
               f"{sum(v for (_, r), v in counts.items() if r == 'pev')} | {len(tests)} | {len(every)} | {len(public)} |")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    paths = argv or ["testcases"]
    with tempfile.TemporaryDirectory(prefix="ccs-hil-count-") as work:
        tests = inventory(paths, REPO, Path(work))
    rows = {row.id: row for row in read_csv(REPO / CSV_PATH)}
    print(table(tests, rows))
    return 0
