"""Every catalogue test proven able to fail: it passes against the clean simulated DUT and fails against each
DUT fault it declares (`@pytest.mark.fails_with(...)`), with a message that names one of its requirement IDs.

    python -m harness.catalogue check-faults [PATH ...] [-j JOBS] [--json FILE]

How: one `pytest --collect-only` learns the tests and their markers; then pytest sessions on `--rig=sim` (in
worker processes, `harness.catalogue.worker`, one per CPU) run the whole catalogue clean (split over the workers)
and, batched by fault, the tests declaring each fault with `--dut-fault NAME`; `--ccs-outcomes` gives each test's
outcome, exception type and message. Problems:

- a test declares no fault (it has never been seen failing);
- it does not pass clean (failed, error, skipped: every catalogue test must run on the sim rig);
- it passes (or skips, or errors) with a declared fault — it cannot catch what it claims to;
- it fails with a declared fault but the message names none of its requirement IDs, or the failure is not an
  assertion (a crash says nothing about the requirement).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BATCH_TIMEOUT_S = 900  # one pytest subprocess; the tests inside are bounded by pytest-timeout as well
_ASSERTIONS = ("AssertionError", "TimelineAssertionError")


@dataclass
class Problem:
    nodeid: str
    fault: str | None
    what: str

    def __str__(self) -> str:
        where = f" [--dut-fault {self.fault}]" if self.fault else ""
        return f"{self.nodeid}{where}: {self.what}"


@dataclass
class Report:
    tests: list[dict[str, Any]]
    clean: dict[str, dict[str, Any]] = field(default_factory=dict)
    faulty: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # fault -> nodeid -> outcome
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.tests)

    def summary(self) -> str:
        faults = sorted(self.faulty)
        pairs = sum(len(v) for v in self.faulty.values())
        failing = sum(1 for v in self.faulty.values() for o in v.values() if o.get("outcome") == "failed")
        clean_passed = sum(1 for o in self.clean.values() if o.get("outcome") == "passed")
        lines = [f"fault check: {len(self.tests)} tests, {clean_passed} passed clean; {len(faults)} faults, "
                 f"{failing}/{pairs} (test, fault) runs failed as they must; {len(self.problems)} problems; "
                 f"{self.seconds:.1f} s"]
        lines += [f"  PROBLEM {p}" for p in self.problems]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"tests": self.tests, "clean": self.clean, "faulty": self.faulty,
                "problems": [{"nodeid": p.nodeid, "fault": p.fault, "what": p.what} for p in self.problems],
                "seconds": self.seconds}


def _plugin_args() -> list[str]:
    installed = any(ep.value == "harness.plugin" for ep in metadata.entry_points(group="pytest11"))
    return [] if installed else ["-p", "harness.plugin"]


def _environment(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.pop("CCS_HIL_RIG", None)
    # Short pytest sessions in fresh processes: let them share compiled (and assertion-rewritten) modules in the
    # scratch folder instead of compiling everything again, without writing into the checkout.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache / "pycache")
    return env


def _common(out: Path) -> list[str]:
    # no:unraisableexception: its clean-up runs gc.collect() several times per session (pytest >= 8.4) — about
    # half of a short session's cost, ~200 sessions per check — and only ever adds warnings, never an outcome
    return ["-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:allure_pytest",
            "-p", "no:unraisableexception", "-p", "no:ccs_hil_report", "--rig=sim", *_plugin_args(),
            f"--ccs-out={out / 'timelines'}"]


def inventory(paths: list[str], rootdir: Path, workdir: Path) -> list[dict[str, Any]]:
    """The tests under `paths` with their markers (one `pytest --collect-only`)."""
    target = workdir / "inventory.json"
    command = [sys.executable, "-m", "pytest", *_common(workdir), "--collect-only", f"--ccs-inventory={target}",
               *paths]
    proc = subprocess.run(command, cwd=rootdir, env=_environment(workdir), capture_output=True, text=True,
                          timeout=BATCH_TIMEOUT_S, check=False)
    if proc.returncode not in (0, 5) or not target.exists():
        raise RuntimeError(f"collecting {' '.join(paths)} failed (exit {proc.returncode}):\n"
                           f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(target.read_text(encoding="utf-8"))["tests"]


class _Worker:
    """One `python -m harness.catalogue.worker` process (restarted when it dies)."""

    def __init__(self, rootdir: Path, workdir: Path, number: int) -> None:
        self.rootdir, self.workdir, self.number = rootdir, workdir, number
        self.log = workdir / f"worker-{number}.log"
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = _environment(self.workdir)
        env["CCS_HIL_WORKER_LOG"] = str(self.log)
        return subprocess.Popen([sys.executable, "-m", "harness.catalogue.worker"], cwd=self.rootdir, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, tag: str, args: list[str]) -> int | None:
        """Run one pytest session; None when the worker died or overran BATCH_TIMEOUT_S (it is then replaced)."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        watchdog = threading.Timer(BATCH_TIMEOUT_S, proc.kill)
        watchdog.start()
        try:
            proc.stdin.write(json.dumps({"tag": tag, "args": args}) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except OSError:
            line = ""
        finally:
            watchdog.cancel()
        if not line:
            self.close()
            return None
        return int(json.loads(line)["rc"])

    def close(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(OSError):
                if self.proc.stdin:
                    self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


def _run(worker: _Worker, nodeids: list[str], fault: str | None, workdir: Path, tag: str
         ) -> dict[str, dict[str, Any]]:
    target = workdir / f"outcomes-{tag}.json"
    args = [*_common(workdir / tag), f"--ccs-outcomes={target}", *nodeids]
    if fault:
        args = [f"--dut-fault={fault}", *args]
    rc = worker.run(tag, args)
    outcomes: dict[str, dict[str, Any]] = {}
    why = f"pytest exit {rc}"
    if target.exists():
        outcomes = {o["nodeid"]: o for o in json.loads(target.read_text(encoding="utf-8"))["tests"]}
    else:  # the session died (a test ended the process, or it overran BATCH_TIMEOUT_S): no verdict for its tests
        log = worker.log.read_text(encoding="utf-8", errors="replace") if worker.log.exists() else ""
        tail = log.rsplit(f"=== job {tag} ===", 1)[-1].strip()[-300:] if f"=== job {tag} ===" in log else ""
        why = f"the pytest session died (exit {rc}) before writing its outcomes" + (f": ...{tail}" if tail else "")
    for nodeid in nodeids:
        outcomes.setdefault(nodeid, {"nodeid": nodeid, "outcome": "not run", "message": why})
    return outcomes


def _chunks(tests: list[dict[str, Any]], n: int) -> list[list[str]]:
    """Split by file (keeps module fixtures together), balanced by test count."""
    by_file: dict[str, list[str]] = defaultdict(list)
    for test in tests:
        by_file[test["path"]].append(test["nodeid"])
    chunks: list[list[str]] = [[] for _ in range(max(1, n))]
    for _, ids in sorted(by_file.items(), key=lambda kv: -len(kv[1])):
        min(chunks, key=len).extend(ids)
    return [c for c in chunks if c]


def judge(test: dict[str, Any], clean: dict[str, Any] | None, faulty: dict[str, dict[str, Any]]) -> list[Problem]:
    """The problems of one test, given its clean outcome and its outcome under each declared fault."""
    nodeid, requirements = test["nodeid"], test["requirements"]
    problems = []
    if not test["faults"]:
        problems.append(Problem(nodeid, None, "declares no fault: add @pytest.mark.fails_with(<--dut-fault>) "
                                              "naming a DUT fault that must make it fail"))
    if not requirements:
        problems.append(Problem(nodeid, None, "names no requirement (@pytest.mark.requirement)"))
    if clean is None or clean.get("outcome") != "passed":
        outcome = clean.get("outcome") if clean else "not run"
        message = (clean or {}).get("message") or ""
        problems.append(Problem(nodeid, None, f"does not pass against the clean DUT: {outcome}"
                                              f"{': ' + message.splitlines()[0] if message else ''}"))
    for fault in test["faults"]:
        result = faulty.get(fault, {}).get(nodeid)
        outcome = result.get("outcome") if result else "not run"
        if outcome != "failed":
            detail = (result or {}).get("message") or ""
            problems.append(Problem(nodeid, fault, f"{outcome} instead of failing: the test cannot catch this fault"
                                                   f"{' (' + detail.splitlines()[0] + ')' if detail else ''}"))
            continue
        message = result.get("message") or ""
        if result.get("exception") not in _ASSERTIONS:
            problems.append(Problem(nodeid, fault, f"failed with {result.get('exception')}, not an assertion: "
                                                   f"{message.splitlines()[0] if message else ''}"))
        elif not any(rid in message for rid in requirements):
            first = message.splitlines()[0] if message else ""
            problems.append(Problem(nodeid, fault, f"failed, but the message names none of {', '.join(requirements)}"
                                                   f": {first}"))
    return problems


def check(paths: list[str] | None = None, *, rootdir: Path = REPO, jobs: int | None = None,
          workdir: Path | None = None) -> Report:
    """Run the whole check (see module docstring) and return the report."""
    import time

    began = time.monotonic()
    paths = paths or ["testcases"]
    jobs = jobs or os.cpu_count() or 2
    with tempfile.TemporaryDirectory(prefix="ccs-hil-faultcheck-") as scratch:
        work = Path(workdir or scratch)
        work.mkdir(parents=True, exist_ok=True)
        tests = inventory(paths, rootdir, work)
        report = Report(tests)
        declared: dict[str, list[str]] = defaultdict(list)
        for test in tests:
            for fault in test["faults"]:
                declared[fault].append(test["nodeid"])
        jobs_list: list[tuple[str | None, list[str], str]] = [
            (None, chunk, f"clean-{i}") for i, chunk in enumerate(_chunks(tests, jobs))]
        # the longest batches first, so the workers finish together
        for fault, ids in sorted(declared.items(), key=lambda kv: -len(kv[1])):
            jobs_list.append((fault, ids, f"fault-{fault}"))
        idle: queue.Queue[_Worker] = queue.Queue()
        workers = [_Worker(rootdir, work, n) for n in range(jobs)]
        for worker in workers:
            idle.put(worker)

        def job(fault: str | None, ids: list[str], tag: str) -> dict[str, dict[str, Any]]:
            worker = idle.get()
            try:
                return _run(worker, ids, fault, work, tag)
            finally:
                idle.put(worker)

        try:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [(fault, pool.submit(job, fault, ids, tag)) for fault, ids, tag in jobs_list]
                for fault, future in futures:
                    outcomes = future.result()
                    if fault is None:
                        report.clean.update(outcomes)
                    else:
                        report.faulty[fault] = outcomes
        finally:
            for worker in workers:
                worker.close()
        for test in tests:
            report.problems += judge(test, report.clean.get(test["nodeid"]), report.faulty)
        if not tests:
            report.problems.append(Problem(" ".join(paths), None, "no tests collected"))
    report.seconds = time.monotonic() - began
    return report


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m harness.catalogue check-faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=["testcases"], help="catalogue folders or files (default: testcases)")
    parser.add_argument("-j", "--jobs", type=int, default=None, help="parallel pytest processes (default: CPUs)")
    parser.add_argument("--json", default=None, help="write the full report as JSON here")
    parser.add_argument("--rootdir", default=str(REPO), help="where to run pytest (default: the checkout)")
    args = parser.parse_args(argv)
    report = check(args.paths, rootdir=Path(args.rootdir), jobs=args.jobs)
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=1), encoding="utf-8")
    print(report.summary())
    return 0 if report.ok else 1
