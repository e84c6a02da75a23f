"""A report from a field capture (for `ccs-hil analyse CAPTURE --report DIR`, issue 8).

The decoded capture is one timeline (records on the `capture` clock); the checks `analyse` runs on it become
`findings` (requirement + one sentence each). The report shows it like a test: verdict, findings at the top,
sequence chart with both sides inferred from the protocol (no DUT role), timing plots, the original capture
(kept as raw `tests/<id>/source.pcapng`) and the commented capture we write.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from harness.records import Record
from reports.build import BuildResult, build_report
from reports.model import DutInfo, Failure, RigInfo, Run, TestResult
from reports.recording import save_run, save_timeline, test_folder


def build_capture_report(records: list[Record], out: str | Path, *, capture: str | Path | None = None,
                         findings: list[Failure] | None = None, requirements: list[str] | None = None,
                         title: str | None = None, tool: str | None = None) -> BuildResult:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = Path(capture).name if capture else "capture"
    findings = findings or []
    if tool is None:
        from harness import __version__

        tool = f"ccs-hil {__version__}"
    events = records[1:]
    start = events[0].t if events else 0.0
    end = events[-1].t if events else 0.0
    test = TestResult(nodeid=f"capture::{name}", outcome="failed" if findings else "passed", duration=end - start,
                      requirements=list(dict.fromkeys([*(requirements or []),
                                                       *(f.requirement for f in findings if f.requirement)])),
                      failure=findings[0] if findings else None, started=start or None, folder=test_folder(name))
    save_timeline(out, test, records)
    if capture:
        target = out / test.folder / ("source" + (Path(capture).suffix or ".pcap"))  # type: ignore[operator]
        shutil.copyfile(capture, target)
        test.files["source_capture"] = f"{test.folder}/{target.name}"
    run = Run(tool=tool, rig=RigInfo(name="field capture", description=str(capture or ""), clock="capture"),
              dut=DutInfo(role=None), started=start or time.time(), finished=end or time.time(),
              tests=[test], title=title or f"ccs-hil analysis of {name}")
    if len(findings) > 1:
        run.notes.extend(f"finding: {f.headline}" for f in findings[1:])
    save_run(out, run)
    return build_report(out, run)
