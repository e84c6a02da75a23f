"""The report model: what one run produced, independent of how it is shown (HTML, JUnit, terminal, allure).

A `Run` is built either live by the pytest plugin or from a raw recording on disk (`reports.recording`), so
`ccs-hil report DIR` and `pytest --report DIR` render exactly the same thing. Test timelines are loaded lazily:
a catalogue run has hundreds of tests and the model must not hold every record of every test at once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.records import Record

# pytest outcomes as the report names them; `error` = a setup/teardown failure, not a verdict on the DUT.
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
REQUIREMENT_STATUSES = ("pass", "fail", "skipped", "not covered")


@dataclass
class RigInfo:
    """The rig as the run saw it: its name, file, clock and the identification the rig file gives."""

    name: str = "?"
    path: str | None = None
    description: str = ""
    clock: str | None = None
    details: dict[str, str] = field(default_factory=dict)  # flattened rig-file keys worth showing (`dut.model`)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "description": self.description, "clock": self.clock,
                "details": dict(self.details)}

    @classmethod
    def from_dict(cls, obj: dict[str, Any] | None) -> RigInfo:
        obj = obj or {}
        return cls(name=str(obj.get("name", "?")), path=obj.get("path"), description=str(obj.get("description", "")),
                   clock=obj.get("clock"), details={str(k): str(v) for k, v in (obj.get("details") or {}).items()})


@dataclass
class DutInfo:
    """Who the device under test is: what the rig file says, plus what the DUT told us on the wire."""

    role: str | None = None  # "evse" | "pev" | None (mixed, or a capture)
    from_rig: dict[str, str] = field(default_factory=dict)
    evccid: list[str] = field(default_factory=list)
    evseid: list[str] = field(default_factory=list)
    protocols: list[str] = field(default_factory=list)  # negotiated namespaces, e.g. urn:din:70121:2012:MsgDef
    modem_firmware: list[str] = field(default_factory=list)
    macs: list[str] = field(default_factory=list)

    def merge(self, other: DutInfo) -> None:
        """Add what another test observed, keeping first-seen order and no duplicates."""
        for name in ("evccid", "evseid", "protocols", "modem_firmware", "macs"):
            mine: list[str] = getattr(self, name)
            mine.extend(v for v in getattr(other, name) if v not in mine)

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "from_rig": dict(self.from_rig), "evccid": list(self.evccid),
                "evseid": list(self.evseid), "protocols": list(self.protocols),
                "modem_firmware": list(self.modem_firmware), "macs": list(self.macs)}

    @classmethod
    def from_dict(cls, obj: dict[str, Any] | None) -> DutInfo:
        obj = obj or {}
        return cls(role=obj.get("role"), from_rig={str(k): str(v) for k, v in (obj.get("from_rig") or {}).items()},
                   **{k: [str(v) for v in obj.get(k) or []]
                      for k in ("evccid", "evseid", "protocols", "modem_firmware", "macs")})


@dataclass
class Failure:
    """Why a test failed, said for a person: the requirement and one sentence, then the full detail."""

    requirement: str | None
    sentence: str
    detail: str = ""  # the full pytest failure text (assertion, traceback, timeline slice)
    phase: str = "call"  # setup | call | teardown

    @property
    def headline(self) -> str:
        if self.requirement:
            return f"{self.requirement}: {self.sentence}"
        return self.sentence

    def to_dict(self) -> dict[str, Any]:
        return {"requirement": self.requirement, "sentence": self.sentence, "detail": self.detail,
                "phase": self.phase}

    @classmethod
    def from_dict(cls, obj: dict[str, Any] | None) -> Failure | None:
        if not obj:
            return None
        return cls(requirement=obj.get("requirement"), sentence=str(obj.get("sentence", "")),
                   detail=str(obj.get("detail", "")), phase=str(obj.get("phase", "call")))


@dataclass
class TestResult:
    """One test's outcome. `folder` is where its raw material lives, relative to the report directory."""

    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: str
    duration: float = 0.0
    requirements: list[str] = field(default_factory=list)
    dut_role: str | None = None
    failure: Failure | None = None
    skip_reason: str | None = None
    started: float | None = None  # epoch seconds
    folder: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # kind -> path relative to the report dir
    load_timeline: Callable[[], list[Record]] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"{self.nodeid}: unknown outcome {self.outcome!r} (known: {', '.join(OUTCOMES)})")

    @property
    def anchor(self) -> str:
        """The HTML id of this test's section: stable, unique for distinct node ids, URL-safe."""
        return "test-" + slug(self.nodeid)

    @property
    def name(self) -> str:
        return self.nodeid.rsplit("::", 1)[-1]

    @property
    def is_failure(self) -> bool:
        return self.outcome in ("failed", "error", "xpassed")

    def timeline(self) -> list[Record]:
        return self.load_timeline() if self.load_timeline is not None else []

    def to_dict(self) -> dict[str, Any]:
        return {"nodeid": self.nodeid, "outcome": self.outcome, "duration": self.duration,
                "requirements": list(self.requirements), "dut_role": self.dut_role,
                "failure": self.failure.to_dict() if self.failure else None, "skip_reason": self.skip_reason,
                "started": self.started, "folder": self.folder, "files": dict(self.files)}

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> TestResult:
        return cls(nodeid=str(obj["nodeid"]), outcome=str(obj["outcome"]), duration=float(obj.get("duration") or 0),
                   requirements=[str(r) for r in obj.get("requirements") or []], dut_role=obj.get("dut_role"),
                   failure=Failure.from_dict(obj.get("failure")), skip_reason=obj.get("skip_reason"),
                   started=obj.get("started"), folder=obj.get("folder"),
                   files={str(k): str(v) for k, v in (obj.get("files") or {}).items()})


@dataclass
class RequirementRow:
    """One line of testcases/REQUIREMENTS.md (see `reports.requirements`)."""

    id: str
    text: str = ""
    source: str = ""
    coverage_note: str = ""  # what REQUIREMENTS.md says about coverage (tests, or why none can)
    section: str = ""
    set_aside: bool = False
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "source": self.source, "coverage_note": self.coverage_note,
                "section": self.section, "set_aside": self.set_aside, "line": self.line}


@dataclass
class MatrixRow:
    """A requirement with the verdict the run gives it and the tests behind that verdict."""

    id: str
    status: str  # one of REQUIREMENT_STATUSES
    tests: list[TestResult] = field(default_factory=list)
    reason: str = ""  # skip reasons, or why it is not covered
    row: RequirementRow | None = None  # None: a test cites an ID that REQUIREMENTS.md does not list

    @property
    def anchor(self) -> str:
        return "req-" + slug(self.id)


@dataclass
class Run:
    """One pytest session (or one analysed capture) as the report shows it."""

    tool: str
    rig: RigInfo = field(default_factory=RigInfo)
    dut: DutInfo = field(default_factory=DutInfo)
    started: float = 0.0  # epoch seconds
    finished: float = 0.0
    argv: list[str] = field(default_factory=list)
    tests: list[TestResult] = field(default_factory=list)
    requirements: list[RequirementRow] = field(default_factory=list)
    requirements_source: str | None = None  # where the catalogue's REQUIREMENTS.md came from
    title: str = "ccs-hil conformance report"
    notes: list[str] = field(default_factory=list)  # e.g. "built from capture X"; shown in the header

    @property
    def duration(self) -> float:
        return max(0.0, self.finished - self.started)

    def counts(self) -> dict[str, int]:
        found = Counter(t.outcome for t in self.tests)
        return {outcome: found.get(outcome, 0) for outcome in OUTCOMES}

    @property
    def failures(self) -> list[TestResult]:
        return [t for t in self.tests if t.is_failure]

    @property
    def verdict(self) -> str:
        """The run's one-word verdict: FAIL when anything failed, PASS when something passed, else NO TESTS."""
        counts = self.counts()
        if counts["failed"] or counts["error"] or counts["xpassed"]:
            return "FAIL"
        if counts["passed"] or counts["xfailed"]:
            return "PASS"
        return "NO TESTS" if not self.tests else "SKIPPED"

    def matrix(self) -> list[MatrixRow]:
        return requirement_matrix(self.requirements, self.tests)


def requirement_matrix(rows: Iterable[RequirementRow], tests: Iterable[TestResult]) -> list[MatrixRow]:
    """Every catalogue requirement with pass / fail / skipped (reason) / not covered, in catalogue order; then
    the IDs tests cite that the catalogue lacks (so a typo in a marker is visible, not silently dropped)."""
    by_id: dict[str, list[TestResult]] = {}
    for test in tests:
        for rid in dict.fromkeys(test.requirements):
            by_id.setdefault(rid, []).append(test)
    out: list[MatrixRow] = []
    seen: set[str] = set()
    for row in rows:
        if row.id in seen:
            continue
        seen.add(row.id)
        out.append(_matrix_row(row.id, by_id.get(row.id, []), row))
    for rid, covering in by_id.items():
        if rid not in seen:
            out.append(_matrix_row(rid, covering, None))
    return out


def _matrix_row(rid: str, tests: list[TestResult], row: RequirementRow | None) -> MatrixRow:
    outcomes = {t.outcome for t in tests}
    if not tests:
        reason = row.coverage_note if row else ""
        if row and row.set_aside:
            reason = ("set aside: " + reason) if reason else "set aside"
        return MatrixRow(rid, "not covered", [], reason or "no test cites this requirement", row)
    if outcomes & {"failed", "error", "xpassed"}:
        return MatrixRow(rid, "fail", tests, "", row)
    if outcomes & {"passed", "xfailed"}:
        skipped = sum(t.outcome == "skipped" for t in tests)
        return MatrixRow(rid, "pass", tests, f"{skipped} covering test(s) skipped" if skipped else "", row)
    reasons = list(dict.fromkeys(t.skip_reason or "skipped" for t in tests))
    return MatrixRow(rid, "skipped", tests, "; ".join(reasons), row)


_SLUG_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: str, limit: int = 120) -> str:
    """A file- and URL-safe name for a node id or requirement ID; a short hash keeps distinct ids distinct."""
    import hashlib

    cleaned = _SLUG_BAD.sub("_", text.replace("::", "__")).strip("_.") or "x"
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned[:limit]}-{digest}"
