"""The raw recording a report is built from, on disk. Stable and versioned: `ccs-hil report DIR` rebuilds the HTML
from it later, with a newer ccs-hil, on another machine.

Layout (format `ccs-hil-recording`, version 1)::

    DIR/
      run.json                        raw: the run (rig, DUT, tool, times, argv) and every test's result
      REQUIREMENTS.md                 raw: the requirement list as the run saw it, one normalised table
                                      (from testcases/REQUIREMENTS.md and testcases/requirements.csv)
      tests/<test-slug>/timeline.jsonl  raw: the test's timeline, the record format of harness.records
      tests/<test-slug>/source.pcapng   raw, optional: the original capture a field analysis started from
      tests/<test-slug>/capture.pcapng  derived: frames with per-frame comments (reports.pcapng)
      tests/<test-slug>/*.svg           derived: sequence chart and timing plots
      index.html                      derived: the report (one self-contained file)

`run.json`::

    {"format": "ccs-hil-recording", "version": 1,
     "run": {"tool": "ccs-hil 0.1.0", "title": ..., "started": <epoch s>, "finished": <epoch s>, "argv": [...],
             "rig": {"name", "path", "description", "clock", "details": {...}},
             "dut": {"role", "from_rig": {...}, "evccid": [...], "evseid": [...], "protocols": [...],
                     "modem_firmware": [...], "macs": [...]},
             "requirements_source": "testcases/REQUIREMENTS.md" | null, "notes": [...]},
     "tests": [{"nodeid", "outcome", "duration", "requirements": [...], "dut_role", "skip_reason", "started",
                "failure": {"requirement", "sentence", "detail", "phase"} | null,
                "folder": "tests/<slug>", "files": {"timeline": "tests/<slug>/timeline.jsonl", ...}}, ...]}

Readers ignore keys they do not know; a later version adds keys and bumps `version` only when a meaning changes.
`run.json` is rewritten (atomically) after every test, so an interrupted run still leaves a readable recording.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from harness.records import Record, RecordFormatError, read_jsonl, write_jsonl
from reports.model import DutInfo, RequirementRow, RigInfo, Run, TestResult, slug
from reports.requirements import RequirementsFormatError, load_requirements, render_requirements

FORMAT = "ccs-hil-recording"
VERSION = 1
RUN_FILE = "run.json"
REQUIREMENTS_FILE = "REQUIREMENTS.md"


class RecordingError(ValueError):
    """The recording directory cannot be read: names the file and what is wrong."""


def test_folder(nodeid: str) -> str:
    return f"tests/{slug(nodeid, limit=80)}"


def save_timeline(root: Path, result: TestResult, records: list[Record]) -> None:
    """Write a test's timeline into its folder and point the result at it."""
    folder = result.folder or test_folder(result.nodeid)
    result.folder = folder
    target = root / folder / "timeline.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8") as handle:
        write_jsonl(records, handle)
    result.files["timeline"] = f"{folder}/timeline.jsonl"
    result.load_timeline = lambda path=target: read_jsonl(path)


def save_requirements(root: Path, rows: list[RequirementRow], sources: list[str]) -> None:
    """The requirement list the run used, normalised to one markdown table (sources named in its header)."""
    (root / REQUIREMENTS_FILE).write_text(render_requirements(rows, sources), encoding="utf-8")


def run_to_dict(run: Run) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "run": {"tool": run.tool, "title": run.title, "started": run.started, "finished": run.finished,
                "argv": list(run.argv), "rig": run.rig.to_dict(), "dut": run.dut.to_dict(),
                "requirements_source": run.requirements_source, "notes": list(run.notes)},
        "tests": [t.to_dict() for t in run.tests],
    }


def save_run(root: str | Path, run: Run) -> Path:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    target = root / RUN_FILE
    temporary = root / (RUN_FILE + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(run_to_dict(run), handle, indent=1, default=str)
        handle.write("\n")
    os.replace(temporary, target)
    return target


def load_run(root: str | Path) -> Run:
    """Read DIR/run.json (and DIR/REQUIREMENTS.md) back into a `Run` whose tests load their timelines lazily."""
    root = Path(root)
    path = root / RUN_FILE
    if not root.is_dir():
        raise RecordingError(f"{root}: not a directory")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file (is {root} a ccs-hil report directory?)") from None
    except json.JSONDecodeError as exc:
        raise RecordingError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RecordingError(f"{path}: not a ccs-hil recording (format {data.get('format')!r})"
                             if isinstance(data, dict) else f"{path}: not a ccs-hil recording")
    version = data.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise RecordingError(f"{path}: recording version {version!r}; this ccs-hil reads up to {VERSION}")
    info = data.get("run") or {}
    run = Run(tool=str(info.get("tool", "?")), rig=RigInfo.from_dict(info.get("rig")),
              dut=DutInfo.from_dict(info.get("dut")), started=float(info.get("started") or 0),
              finished=float(info.get("finished") or 0), argv=[str(a) for a in info.get("argv") or []],
              requirements_source=info.get("requirements_source"),
              title=str(info.get("title") or "ccs-hil conformance report"),
              notes=[str(n) for n in info.get("notes") or []])
    for number, entry in enumerate(data.get("tests") or []):
        try:
            result = TestResult.from_dict(entry)
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordingError(f"{path}: tests[{number}]: {exc}") from None
        timeline = result.files.get("timeline")
        if timeline:
            result.load_timeline = _loader(root / timeline)
        run.tests.append(result)
    requirements = root / REQUIREMENTS_FILE
    if requirements.is_file():
        try:
            run.requirements = load_requirements(requirements)
        except RequirementsFormatError as exc:
            raise RecordingError(str(exc)) from None
    return run


def _loader(path: Path):
    def load() -> list[Record]:
        if not path.is_file():
            return []
        try:
            return read_jsonl(path)
        except RecordFormatError as exc:
            raise RecordingError(str(exc)) from None

    return load
