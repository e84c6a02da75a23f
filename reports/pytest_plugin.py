"""pytest plugin for reports (entry point `ccs_hil_report`): `--report DIR`, JUnit properties, allure attachments,
progress lines and the end-of-run summary.

It is a second plugin beside the skeleton's `harness.plugin` and reads only what that plugin records:

- requirement IDs from `@pytest.mark.requirement("ID", ...)` and the DUT role from `@pytest.mark.dut_role(...)`;
- each test's timeline, found by `find_timeline(item)` (see there for the contract), captured at the end of the
  test's call (or failed setup) and read after teardown, so records the teardown adds (CP back to safe) are in;
- the rig from `--rig` (option of the skeleton's plugin) and its TOML file.

Every test gets `requirement` (one per ID) and `dut_role` JUnit properties (`--junitxml`), with or without
`--report`. With `--alluredir`, each test gets its charts, pcapng and timeline attached.
"""

from __future__ import annotations

import contextlib
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from harness.records import Record, Timeline
from reports import allure_attach
from reports.build import build_report, build_test
from reports.model import DutInfo, Failure, Run, TestResult
from reports.recording import save_requirements, save_run, save_timeline, test_folder
from reports.requirements import RequirementsFormatError, find_catalogue, load_catalogue
from reports.rig import dut_from_rig, rig_info
from reports.terminal import summary_lines

PROGRESS_EVERY = 10.0  # seconds of wall time between progress lines
_TIMELINE = pytest.StashKey[Any]()
_RESULT = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ccs-hil report")
    group.addoption("--report", metavar="DIR", default=None,
                    help="write a conformance report: DIR/index.html (self-contained) plus the raw recording "
                         "(run.json, per-test timeline.jsonl, capture.pcapng, SVG charts); rebuild later with "
                         "`ccs-hil report DIR`")
    group.addoption("--report-title", metavar="TEXT", default=None, help="title of the report page")
    group.addoption("--report-progress", metavar="SECONDS", type=float, default=PROGRESS_EVERY,
                    help=f"with --report: a progress line at most every SECONDS of wall time (default "
                         f"{PROGRESS_EVERY:g}; 0 = after every test and record), negative = none")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(ReportPlugin(config), "ccs_hil_report_session")


def requirement_ids(item: pytest.Item) -> list[str]:
    found: list[str] = []
    for marker in reversed(list(item.iter_markers("requirement"))):  # module/class markers first, then the test's
        for arg in marker.args:
            for rid in (arg if isinstance(arg, (list, tuple)) else [arg]):
                if str(rid) not in found:
                    found.append(str(rid))
    return found


def dut_role(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("dut_role")
    if marker is None or not marker.args:
        return None
    return str(marker.args[0]).lower()


def find_timeline(item: pytest.Item) -> Any:
    """The test's timeline (a `harness.records.Timeline` or a list of `Record`), looked up in this order:

    1. `item.stash[harness.plugin.TIMELINE_KEY]` — the contract proposed to the skeleton plugin: a
       `pytest.StashKey[Timeline]` it sets when it creates the test's timeline;
    2. a `timeline` fixture value among the test's fixtures (`item.funcargs`, which holds the whole fixture
       closure while the test runs);
    3. a `bench` fixture value with a `.timeline` (or `.runner.timeline`).
    """
    with contextlib.suppress(Exception):
        from harness import plugin as harness_plugin

        key = getattr(harness_plugin, "TIMELINE_KEY", None)
        if key is not None and key in item.stash:
            return item.stash[key]
    funcargs = getattr(item, "funcargs", None) or {}
    if isinstance(funcargs.get("timeline"), (Timeline, list)):
        return funcargs["timeline"]
    bench = funcargs.get("bench")
    for candidate in (getattr(bench, "timeline", None), getattr(getattr(bench, "runner", None), "timeline", None)):
        if isinstance(candidate, Timeline):
            return candidate
    return None


def _records(found: Any) -> list[Record]:
    if isinstance(found, Timeline):
        return list(found.records)
    if isinstance(found, list) and all(isinstance(r, Record) for r in found):
        return list(found)
    return []


_REQUIREMENT_LINE = re.compile(r"^requirements? (?P<ids>.+?) (?:not met|failed|violated)[.:]?$")


def failure_of(excinfo: pytest.ExceptionInfo | None, report: pytest.TestReport) -> tuple[str | None, str]:
    """(requirement, sentence) of a failure: the exception's `requirement` attribute or the assertion helpers'
    leading "requirement X not met" line, and the first line of what the assertion said (or the exception)."""
    requirement = None
    if excinfo is not None:
        exc = excinfo.value
        requirement = getattr(exc, "requirement", None)
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    else:
        lines = [line[1:].strip() for line in report.longreprtext.splitlines() if line.startswith("E ")]
        exc = None
    if lines:
        stated = _REQUIREMENT_LINE.match(lines[0])
        if stated:
            requirement = requirement or stated.group("ids")
            lines = lines[1:]
    first = lines[0] if lines else ""
    if exc is not None and not isinstance(exc, AssertionError):
        first = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    first = first or ("assertion failed" if exc is not None else "failed")
    return (str(requirement) if requirement else None), (first if len(first) <= 300 else first[:299] + "…")


class ReportPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        option = config.getoption("report", None)
        self.root: Path | None = Path(option) if option else None
        self.allure = allure_attach.allure_active(config)
        self.scratch: tempfile.TemporaryDirectory | None = None
        self.run: Run | None = None
        self.prebuilt: dict[str, dict[str, str]] = {}
        self.index: Path | None = None
        self.total = 0
        self.done = 0
        self.last_progress = time.monotonic()
        self.progress_every = float(config.getoption("report_progress", PROGRESS_EVERY) or 0.0)
        self.current: str | None = None
        self.current_started = 0.0
        self._items: dict[str, pytest.Item] = {}

    @property
    def active(self) -> bool:
        return self.root is not None or self.allure

    # ------------------------------------------------------------------ session

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if not self.active:
            return
        if self.root is None:
            self.scratch = tempfile.TemporaryDirectory(prefix="ccs-hil-allure-")
        root = self.workdir
        root.mkdir(parents=True, exist_ok=True)
        from harness import __version__

        rig_name = None
        with contextlib.suppress(ValueError):
            rig_name = self.config.getoption("rig", None)
        rig = rig_info(rig_name, self.config.rootpath)
        dut = DutInfo(from_rig=dut_from_rig(rig_name, self.config.rootpath))
        self.run = Run(tool=f"ccs-hil {__version__}", rig=rig, dut=dut, started=time.time(),
                       argv=["pytest", *sys.argv[1:]] if sys.argv else [])
        faults = []
        with contextlib.suppress(ValueError):
            faults = list(self.config.getoption("dut_fault", None) or [])
        if faults:
            self.run.notes.append(f"simulated DUT made faulty on purpose: --dut-fault {', '.join(faults)}")
        if self.config.getoption("report_title", None):
            self.run.title = self.config.getoption("report_title")
        catalogue = find_catalogue(self.config.rootpath)
        if catalogue is not None and self.root is not None:
            try:
                rows, sources = load_catalogue(catalogue)
            except RequirementsFormatError as exc:
                self.run.notes.append(f"requirement list not read: {exc}")
            else:
                self.run.requirements = rows
                self.run.requirements_source = ", ".join(_relative(s, self.config.rootpath) for s in sources)
                save_requirements(root, rows, sources)

    @property
    def workdir(self) -> Path:
        if self.root is not None:
            return self.root
        assert self.scratch is not None
        return Path(self.scratch.name)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Requirement IDs and DUT role become JUnit properties of every test (with or without --report)."""
        for item in items:
            for rid in requirement_ids(item):
                item.user_properties.append(("requirement", rid))
            role = dut_role(item)
            if role:
                item.user_properties.append(("dut_role", role))
        self.total = len(items)

    # ------------------------------------------------------------------ per test

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        if not self.active:
            return
        report: pytest.TestReport = outcome.get_result()
        if call.when in ("setup", "call"):
            found = find_timeline(item)
            if found is not None:
                item.stash[_TIMELINE] = found
                if call.when == "setup":
                    self._watch(item, found)
        state = item.stash.setdefault(_RESULT, {"duration": 0.0, "outcome": None, "failure": None,
                                                "skip": None, "started": None})
        state["duration"] += report.duration
        if state["started"] is None:
            state["started"] = getattr(call, "start", None)
        wasxfail = hasattr(report, "wasxfail")
        if report.when == "setup":
            if report.failed:
                state["outcome"] = "error"
            elif report.skipped:
                state["outcome"] = "xfailed" if wasxfail else "skipped"
                state["skip"] = _skip_reason(report)
        elif report.when == "call":
            if report.failed:
                state["outcome"] = "failed"
            elif report.skipped:
                state["outcome"] = "xfailed" if wasxfail else "skipped"
                state["skip"] = _skip_reason(report)
            else:
                state["outcome"] = "xpassed" if wasxfail else "passed"
        elif report.when == "teardown" and report.failed and state["outcome"] in (None, "passed"):
            state["outcome"] = "error"
        if report.failed and state["failure"] is None:
            requirement, sentence = failure_of(call.excinfo, report)
            state["failure"] = Failure(requirement=requirement, sentence=sentence, detail=report.longreprtext,
                                       phase=report.when)

    def _watch(self, item: pytest.Item, found: Any) -> None:
        """Progress during a long test: a line every PROGRESS_EVERY seconds naming the latest record."""
        if not isinstance(found, Timeline) or self.root is None or self.progress_every < 0:
            return
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is None:
            return

        def listener(record: Record) -> None:
            now = time.monotonic()
            if now - self.last_progress < self.progress_every or self.current != item.nodeid:
                return
            self.last_progress = now
            capture = self.config.pluginmanager.get_plugin("capturemanager")
            # the test's output is being captured: step out of it, as pytest's live logging does
            with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
                self._line(terminal, f"[ccs-hil] {item.nodeid}: running {now - self.current_started:.0f} s, "
                                f"t={record.t:.3f} {record.layer} {record.name}")

        found.subscribe(listener)

    def _line(self, terminal: Any, text: str) -> None:
        """A line of its own, even in the middle of pytest's row of dots."""
        terminal.ensure_newline()
        writer = getattr(terminal, "_tw", None)
        if writer is not None and writer.width_of_current_line:
            writer.line()
        terminal.write_line(text)

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.current, self.current_started = nodeid, time.monotonic()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.done += 1
        self.current = None
        if not self.active or self.run is None:
            return
        item = self._items.get(nodeid)
        if item is None:
            return
        state = item.stash.get(_RESULT, None) or {}
        result = TestResult(nodeid=nodeid, outcome=state.get("outcome") or "skipped",
                            duration=state.get("duration", 0.0), requirements=requirement_ids(item),
                            dut_role=dut_role(item), failure=state.get("failure"), skip_reason=state.get("skip"),
                            started=state.get("started"), folder=test_folder(nodeid))
        records = _records(item.stash.get(_TIMELINE, None))
        root = self.workdir
        parts: dict[str, str] = {}
        if records:
            save_timeline(root, result, records)
            parts = build_test(root, self.run, result, records)
        result.load_timeline = None  # the live run keeps the built parts, not the records
        self.run.tests.append(result)
        self.prebuilt[nodeid] = parts
        if self.allure:
            with contextlib.suppress(Exception):  # a broken attachment must never fail the test run
                allure_attach.attach(result, parts, root)
        if self.root is not None:
            self.run.finished = time.time()
            save_run(self.root, self.run)
        self._progress()

    def _progress(self) -> None:
        now = time.monotonic()
        if self.root is None or self.run is None or self.progress_every < 0 or \
                now - self.last_progress < self.progress_every:
            return
        self.last_progress = now
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            counts = self.run.counts()
            self._line(terminal, f"[ccs-hil] {self.done}/{self.total} tests done · {counts['failed']} failed · "
                                f"{counts['error']} errors · {counts['skipped']} skipped · "
                                f"{time.time() - self.run.started:.0f} s · report → {self.root}")

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._items = {item.nodeid: item for item in session.items}

    # ------------------------------------------------------------------ end

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.run is None:
            return
        self.run.finished = time.time()
        roles = {t.dut_role for t in self.run.tests if t.dut_role}
        self.run.dut.role = roles.pop() if len(roles) == 1 else self.run.dut.role
        if self.root is not None:
            self.index = build_report(self.root, self.run, prebuilt=self.prebuilt).index
        if self.scratch is not None:
            self.scratch.cleanup()

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.run is None or self.root is None:
            return
        terminalreporter.section("ccs-hil conformance report", sep="=")
        width = getattr(terminalreporter, "_tw", None).fullwidth if hasattr(terminalreporter, "_tw") else 100
        for line in summary_lines(self.run, self.index, width=width):
            terminalreporter.write_line(line)


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return path


def _skip_reason(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return f"xfail: {report.wasxfail}" if report.wasxfail else "xfail"
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
        return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason
    return str(longrepr or "skipped")
