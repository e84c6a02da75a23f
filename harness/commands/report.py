"""Rebuild a conformance report (index.html, charts, pcapng) from the raw recording in DIR.

The recording is what `pytest --report DIR` (or `ccs-hil analyse CAPTURE --report DIR`) left there: run.json,
REQUIREMENTS.md and tests/<id>/timeline.jsonl (layout in reports/recording.py and docs/reports.md). Rebuilding
never changes the raw files' meaning, so a report can be regenerated with a newer ccs-hil.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", type=Path, help="report directory holding run.json")
    parser.add_argument("--requirements", metavar="FILE", type=Path, default=None,
                        help="use this REQUIREMENTS.md instead of the copy in DIR (it is copied into DIR)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the path of index.html")


def run(args: argparse.Namespace) -> int:
    from reports.build import build_report
    from reports.recording import REQUIREMENTS_FILE, RecordingError, load_run
    from reports.requirements import RequirementsFormatError, load_requirements
    from reports.terminal import summary_lines

    try:
        loaded = load_run(args.dir)
        if args.requirements is not None:
            loaded.requirements = load_requirements(args.requirements)
            loaded.requirements_source = str(args.requirements)
            (args.dir / REQUIREMENTS_FILE).write_text(args.requirements.read_text(encoding="utf-8"),
                                                      encoding="utf-8")
        result = build_report(args.dir, loaded)
    except (RecordingError, RequirementsFormatError) as exc:
        print(f"ccs-hil report: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ccs-hil report: {args.dir}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    for warning in result.warnings:
        print(f"ccs-hil report: warning: {warning}", file=sys.stderr)
    if args.quiet:
        print(result.index.resolve())
    else:
        width = shutil.get_terminal_size((120, 24)).columns
        print("\n".join(summary_lines(result.run, result.index, width=width)))
    return 0
