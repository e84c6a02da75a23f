"""The one-screen summary at the end of a run (pytest and `ccs-hil report`), pointing at the report."""

from __future__ import annotations

import textwrap
from pathlib import Path

from reports.html import failure_headline
from reports.model import Run

MAX_FAILURES_SHOWN = 10


def summary_lines(run: Run, index: Path | None, width: int = 100) -> list[str]:
    counts = run.counts()
    matrix = run.matrix()
    status = {s: sum(r.status == s for r in matrix) for s in ("pass", "fail", "skipped", "not covered")}
    outcome_text = ", ".join(f"{n} {o}" for o, n in counts.items() if n) or "no tests"
    role = f"DUT {run.dut.role.upper()}" if run.dut.role else "DUT role per test"
    lines = [f"rig {run.rig.name} · {role} · {run.tool} · {len(run.tests)} tests in {run.duration:.1f} s",
             f"verdict {run.verdict}: {outcome_text}"]
    if matrix:
        lines.append("requirements: " + ", ".join(f"{n} {s}" for s, n in status.items()))
    identity = [f"{label} {', '.join(values)}" for label, values in
                (("EVCCID", run.dut.evccid), ("EVSEID", run.dut.evseid), ("protocol", run.dut.protocols))
                if values]
    if identity:
        lines.append("DUT said: " + "; ".join(identity))
    failures = run.failures
    if failures:
        lines.append(f"failures ({len(failures)}):")
        for test in failures[:MAX_FAILURES_SHOWN]:
            lines.append(f"  ✗ {test.nodeid}")
            lines.extend(textwrap.wrap(failure_headline(test), width=max(40, width - 6), initial_indent="      ",
                                       subsequent_indent="      ", max_lines=3, placeholder=" …"))
        if len(failures) > MAX_FAILURES_SHOWN:
            lines.append(f"  … and {len(failures) - MAX_FAILURES_SHOWN} more in the report")
    if index is not None:
        lines.append(f"report: {index.resolve()}")
    return lines
