"""The ccs-hil pytest plugin (registered through the `pytest11` entry point): `--rig`, fixtures, markers.

Options: `--rig NAME|PATH` (default `sim`, or `$CCS_HIL_RIG`), `--dut-fault NAME` (repeatable; sim rig only),
`--ccs-out DIR` (per-test output, default `<rootdir>/out`).

Markers: `requirement("ID", ...)` — the requirement(s) a test checks (named in assertion failures and reports);
`dut_role("evse" | "pev")` — the DUT's role; skipped on rigs whose DUT plays the other role, and on the sim rig
it chooses which simulated DUT sits in the seat; `needs("capability", ...)` — rig capabilities the test needs
(skipped with `needs <capability>` when the rig lacks them).

Fixtures: `rig` (session: the loaded `harness.rig.Rig`), `bench` (per test: `harness.bench.Bench`), `timeline`,
`cp` (our EVSE-side CP generator), `cp_load` (our vehicle-side CP load), `power` (our EVSE's real power stage,
`harness.drivers.power`), `dut` (`harness.bench.DutInfo`).
A fixture whose resource is missing skips the test with `needs <what>: <why>`.

Output: each test's timeline is written as JSON Lines to `<out>/<rig>/<test node id, '::' → '/'>/timeline.jsonl`
(the path is also in the test's `user_properties` as `ccs_timeline`), ending with a `test` record `result`.

Start-up checks (`harness.startup`): once per session, after collection and before the first test that uses the
bench, every resource of the rig is checked (interface, privilege, adaptor profile, instrument identity, levels);
the results are printed, what is missing skips the tests that need it, what is wrong aborts the run (exit 4).

Safety: the bench is made safe when the test body fails (before teardown), at teardown, on Ctrl-C
(`pytest_keyboard_interrupt`), and SIGTERM/SIGHUP are turned into "make safe, then KeyboardInterrupt".
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

from harness import assertions, safety
from harness.bench import Bench, SessionResources
from harness.drivers import ResourceUnavailable
from harness.drivers.power import stage_name as power_stage_name
from harness.options import RigError
from harness.records import Record
from harness.rig import Rig, UnknownRig, load
from harness.sim import dut_faults

# The catalogue's marker (fails_with), fixture (v2g) and inventory/outcome outputs.
pytest_plugins = ["harness.catalogue.plugin"]

DUT_ROLES = ("evse", "pev")
_STATE = pytest.StashKey["CcsState"]()
_BENCH = pytest.StashKey[Bench]()
_REPORTS = pytest.StashKey[dict]()
# The contract with other plugins (reports): each test's Timeline, set when its bench is made.
TIMELINE_KEY = pytest.StashKey[Any]()


class CcsState:
    def __init__(self) -> None:
        self.rig: Rig | None = None
        self.rig_error: str | None = None
        self.faults: frozenset[str] = frozenset()
        self.out: Path = Path("out")
        self.session = SessionResources()
        self.live: dict[str, Bench] = {}
        self.startup: Any = None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ccs-hil", "ccs-hil test bench")
    group.addoption("--rig", default=None, metavar="NAME|PATH",
                    help="rig to run on: a name from rigs/ or a path to a .toml file (default: sim, or $CCS_HIL_RIG)")
    faults = ", ".join(sorted(dut_faults()))
    group.addoption("--dut-fault", action="append", default=[], metavar="NAME",
                    help=f"make the simulated DUT faulty (sim rig; repeatable): {faults}")
    group.addoption("--ccs-out", default=None, metavar="DIR",
                    help="where per-test timelines go (default: <rootdir>/out)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(*ids): the requirement(s) this test checks, e.g. "
                            "requirement('IEC61851-1:2017 Table A.6 Seq 10.2'); named when an assertion fails")
    config.addinivalue_line("markers", "dut_role(role): the DUT's role, 'evse' (a charger) or 'pev' (a vehicle); "
                            "skipped on rigs whose DUT plays the other role")
    config.addinivalue_line("markers", "needs(*capabilities): rig capabilities the test needs, e.g. "
                            "needs('cp-measurement'); skipped with 'needs <capability>' when missing")
    state = CcsState()
    config.stash[_STATE] = state
    _states.append(state)

    explicit = config.getoption("--rig") or os.environ.get("CCS_HIL_RIG")
    try:
        state.rig = load(explicit or "sim", config.rootpath)
    except UnknownRig as exc:
        if explicit:
            raise pytest.UsageError(f"ccs-hil: {exc}") from None
        state.rig_error = f"ccs-hil: no default rig: {exc}"
    except RigError as exc:
        raise pytest.UsageError(f"ccs-hil: invalid rig file\n{exc}") from None

    faults = frozenset(config.getoption("--dut-fault") or ())
    known = dut_faults()
    unknown = sorted(faults - set(known))
    if unknown:
        raise pytest.UsageError(f"ccs-hil: unknown --dut-fault {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    if faults and state.rig is not None and not state.rig.simulated_dut:
        raise pytest.UsageError(f"ccs-hil: --dut-fault needs a simulated DUT; rig {state.rig.name} has a real "
                                f"{state.rig.dut['kind']}")
    state.faults = faults

    out = config.getoption("--ccs-out")
    state.out = Path(out).resolve() if out else config.rootpath / "out"
    if out:
        try:
            state.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise pytest.UsageError(f"ccs-hil: cannot write test output to {state.out}: {exc.strerror}") from None

    if getattr(config.option, "timeout_method", None) == "thread":
        warnings.warn("ccs-hil: pytest-timeout's 'thread' method ends the process without teardown, so CP "
                      "instruments are not made safe on a timeout; use --timeout-method=signal", stacklevel=1)
    safety.install_signal_handlers()


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    safety.restore_signal_handlers()
    if state is not None:
        if safety.live():
            safety.safe_all("pytest finished")
        state.session.close_all()
        if state in _states:
            _states.remove(state)


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash[_STATE]
    if state.rig is None:
        return [state.rig_error or "ccs-hil: no rig"]
    rig = state.rig
    lines = [f"ccs-hil rig: {rig.name} ({rig.path}) — {rig.description}",
             f"ccs-hil capabilities: {', '.join(sorted(rig.capabilities())) or 'none'}; clock {rig.clock}; "
             f"power stage {power_stage_name(rig)}"]
    if state.faults:
        lines.append(f"ccs-hil DUT faults: {', '.join(sorted(state.faults))}")
    return lines


# ------------------------------------------------------------------------------------------------ markers


def _role(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("dut_role")
    if marker is None:
        return None
    role = marker.args[0] if marker.args else marker.kwargs.get("role")
    if role not in DUT_ROLES:
        raise pytest.UsageError(f"{item.nodeid}: dut_role must be 'evse' or 'pev', not {role!r}")
    return role


def requirements_of(item: pytest.Item) -> list[str]:
    ids: list[str] = []
    for marker in item.iter_markers("requirement"):
        ids.extend(str(a) for a in marker.args)
    return ids


def skip_reason(item: pytest.Item, rig: Rig) -> str | None:
    """Why this test cannot run on this rig (privileges, DUT role, capabilities), decided from the rig file alone."""
    if "root" in rig.requires and os.geteuid() != 0:
        return f"needs root: rig {rig.name} uses network namespaces and raw sockets"
    role = _role(item)
    if role is not None and rig.dut_role is not None and role != rig.dut_role:
        what = {"pev": "vehicle (pev)", "evse": "charger (evse)"}[rig.dut_role]
        return f"dut_role {role}: rig {rig.name} tests a {what}"
    needs = [str(a) for m in item.iter_markers("needs") for a in m.args]
    missing = [n for n in needs if n not in rig.capabilities()]
    if missing:
        return f"needs {', '.join(missing)}: rig {rig.name} does not have it"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[_STATE]
    for item in items:
        _role(item)  # a bad dut_role value is a usage error, reported before anything runs
        if state.rig is not None:
            reason = skip_reason(item, state.rig)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


BENCH_FIXTURES = {"bench", "cp", "cp_load", "timeline", "dut", "power"}


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Run the rig's start-up checks once, before any test that uses the bench; abort when something is wrong."""
    config = session.config
    state = config.stash[_STATE]
    if state.rig is None or config.option.collectonly:
        return
    uses_bench = [item for item in session.items if BENCH_FIXTURES & set(getattr(item, "fixturenames", ()))
                  and not item.get_closest_marker("skip")]
    if not uses_bench:
        return
    from harness import startup

    report = startup.run(state.rig, state.session)
    state.startup = report
    writer = config.pluginmanager.get_plugin("terminalreporter")
    if report.checks and writer is not None:
        writer.write_line(f"ccs-hil start-up checks ({state.rig.name}):")
        for line in report.lines():
            writer.write_line("  " + line)
    if report.aborts:
        problems = "; ".join(c.name for c in report.aborts)
        pytest.exit(f"ccs-hil: the bench does not match rig {state.rig.name} ({problems}); no test was run",
                    returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    assertions.current_requirements = tuple(requirements_of(item))
    try:
        return (yield)
    except ResourceUnavailable as exc:
        pytest.skip(str(exc))
    finally:
        assertions.current_requirements = ()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    if report.failed and report.when == "call":
        bench = item.stash.get(_BENCH, None)
        if bench is not None:
            safety.make_safe(bench, f"bench {item.nodeid}", "test failed")
    return report


# pytest_keyboard_interrupt gets no config: the configured states are kept here.
_states: list[CcsState] = []


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo) -> None:
    safety.safe_all("interrupted")
    for state in list(_states):
        for bench in list(state.live.values()):
            _finish(bench, state, "interrupted", str(excinfo.value) or "KeyboardInterrupt")


# ------------------------------------------------------------------------------------------------ output


def output_dir(state: CcsState, rig: Rig, nodeid: str) -> Path:
    parts = [re.sub(r"[^A-Za-z0-9_.\-\[\]=,+]", "_", p) for p in nodeid.replace("::", "/").split("/")]
    parts = [p for p in parts if p not in ("", ".", "..")]
    return state.out / rig.name / Path(*parts)


def _finish(bench: Bench, state: CcsState, outcome: str, detail: str | None = None) -> Path | None:
    """Make safe, close, record the outcome and write the timeline (once)."""
    state.live.pop(bench.test_id or "", None)
    if getattr(bench, "finished", False):
        return None
    bench.finished = True  # type: ignore[attr-defined]
    error = None
    try:
        bench.close()
    except Exception as exc:  # noqa: BLE001 - reported below and re-raised by the caller's teardown
        error = exc
    body: dict[str, Any] = {"outcome": outcome}
    if detail:
        body["detail"] = detail
    bench.timeline.add(Record(t=bench.clock.now(), layer="test", name="result", src="test", body=body,
                              error=str(error) if error else None))
    path = getattr(bench, "output_path", None)
    if path is not None:
        try:
            bench.timeline.write(path)
        except OSError as exc:
            warnings.warn(f"ccs-hil: could not write {path}: {exc.strerror}", stacklevel=1)
    if error is not None:
        raise error
    return path


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def rig(pytestconfig: pytest.Config) -> Rig:
    """The rig this session runs on (`--rig`)."""
    state = pytestconfig.stash[_STATE]
    if state.rig is None:
        pytest.fail(state.rig_error or "no rig", pytrace=False)
    return state.rig


@pytest.fixture
def bench(request: pytest.FixtureRequest, rig: Rig) -> Any:
    """One test's bench: runner on the rig's clock, timeline, lazily built resources; safe on every exit."""
    state = request.config.stash[_STATE]
    item = request.node
    requirements = requirements_of(item)
    the_bench = Bench(rig, dut_role=_role(item), dut_faults=state.faults if rig.simulated_dut else frozenset(),
                      session=state.session, test_id=item.nodeid, requirements=requirements)
    the_bench.output_path = output_dir(state, rig, item.nodeid) / "timeline.jsonl"  # type: ignore[attr-defined]
    item.user_properties.append(("ccs_timeline", str(the_bench.output_path)))  # type: ignore[attr-defined]
    item.stash[_BENCH] = the_bench
    item.stash[TIMELINE_KEY] = the_bench.timeline
    state.live[item.nodeid] = the_bench
    the_bench.note("start", nodeid=item.nodeid, requirements=requirements, dut_role=the_bench.dut_role)
    yield the_bench
    reports = item.stash.get(_REPORTS, {})
    call = reports.get("call")
    outcome = "error" if call is None else call.outcome
    detail = None
    if call is not None and call.failed:
        detail = str(call.longrepr).strip().splitlines()[-1][:300] if call.longrepr else None
    if call is not None and call.skipped and isinstance(call.longrepr, tuple):
        detail = str(call.longrepr[2])
    _finish(the_bench, state, outcome, detail)


@pytest.fixture
def timeline(bench: Bench) -> Any:
    """This test's timeline (harness.records.Timeline)."""
    return bench.timeline


@pytest.fixture
def cp(bench: Bench) -> Any:
    """Our EVSE-side CP generator (harness.drivers.cp.CpGenerator)."""
    try:
        return bench.cp
    except ResourceUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def cp_load(bench: Bench) -> Any:
    """Our vehicle-side CP load (harness.drivers.cp.CpLoad)."""
    try:
        return bench.cp_load
    except ResourceUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def power(bench: Bench) -> Any:
    """Our EVSE's real power stage (harness.drivers.power.PowerStage); skips on rigs that simulate it."""
    try:
        return bench.resource("power")
    except ResourceUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def dut(bench: Bench) -> Any:
    """What the rig says about the device under test (harness.bench.DutInfo)."""
    return bench.dut
