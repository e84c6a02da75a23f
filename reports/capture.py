"""A report from a field capture (for `ccs-hil analyse CAPTURE --report DIR`, issue 8).

The decoded capture is one timeline (records on the `capture` clock); the checks `analyse` runs on it become
`findings` (requirement + one sentence each). The report shows it like a test: verdict, findings at the top,
sequence chart with both sides inferred from the protocol (no DUT role), timing plots, the original capture
(kept as raw `tests/<id>/source.pcapng`) and the commented capture we write.

`parts` splits the capture into several "tests" — `ccs-hil analyse` gives each reconstructed session (and the SLAC
attempts before any session) its own section with its own slice of the timeline and its own findings.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.records import Record
from reports.build import BuildResult, build_report
from reports.model import DutInfo, Failure, RigInfo, Run, TestResult
from reports.recording import save_run, save_timeline, test_folder


@dataclass
class CapturePart:
    """One section of a capture report: a name, its records (meta record first) and what was found in it."""

    name: str
    records: list[Record]
    findings: list[Failure] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)


def build_capture_report(records: list[Record], out: str | Path, *, capture: str | Path | None = None,
                         findings: list[Failure] | None = None, requirements: list[str] | None = None,
                         title: str | None = None, tool: str | None = None, parts: list[CapturePart] | None = None,
                         dut: DutInfo | None = None, notes: list[str] | None = None) -> BuildResult:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = Path(capture).name if capture else "capture"
    if tool is None:
        from harness import __version__

        tool = f"ccs-hil {__version__}"
    whole = parts is None
    if parts is None:
        parts = [CapturePart(name, records, list(findings or []), list(requirements or []))]
    tests: list[TestResult] = []
    source: str | None = None
    for part in parts:
        nodeid = f"capture::{name}" if whole else f"capture::{name}::{part.name}"
        events = part.records[1:]
        start = events[0].t if events else 0.0
        end = events[-1].t if events else 0.0
        test = TestResult(nodeid=nodeid, outcome="failed" if part.findings else "passed", duration=end - start,
                          requirements=list(dict.fromkeys([*part.requirements, *(f.requirement for f in part.findings
                                                                                   if f.requirement)])),
                          failure=part.findings[0] if part.findings else None, started=start or None,
                          folder=test_folder(nodeid))
        save_timeline(out, test, part.records)
        if capture:
            if source is None:
                target = out / test.folder / ("source" + (Path(capture).suffix or ".pcap"))  # type: ignore[operator]
                shutil.copyfile(capture, target)
                source = f"{test.folder}/{target.name}"
            test.files["source_capture"] = source
        tests.append(test)
    events = records[1:]
    start = events[0].t if events else 0.0
    end = events[-1].t if events else 0.0
    run = Run(tool=tool, rig=RigInfo(name="field capture", description=str(capture or ""), clock="capture"),
              dut=dut or DutInfo(role=None), started=start or time.time(), finished=end or time.time(),
              tests=tests, title=title or f"ccs-hil analysis of {name}")
    run.notes.extend(notes or [])
    for part in parts:
        if len(part.findings) > 1:
            run.notes.extend(f"finding: {f.headline}" for f in part.findings[1:])
    save_run(out, run)
    return build_report(out, run)
