"""The catalogue's part of the ccs-hil pytest plugin (registered by `harness.plugin`): the `fails_with` and `smoke`
markers, the `v2g` fixture, and two machine-readable outputs the catalogue tools use.

- `@pytest.mark.fails_with("evse-...", ...)`: the `--dut-fault` names that must make this test fail (each one on
  its own); checked at collection (known names, the right DUT role), proven by `python -m harness.catalogue
  check-faults` (and tests/catalogue).
- `v2g` fixture: `harness.catalogue.v2g.V2G` for the test's bench (needs `dut_role`).
- `--ccs-inventory FILE`: after collection, write every collected test with its markers as JSON (with
  `--collect-only` this is how the tools learn the catalogue without running it).
- `--ccs-outcomes FILE`: after the run, write every test's outcome with the exception type and message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.sim import dut_faults, fault_roles

_OUTCOMES = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ccs-hil")
    group.addoption("--ccs-inventory", default=None, metavar="FILE",
                    help="write the collected tests with their markers (requirements, faults, DUT role) as JSON")
    group.addoption("--ccs-outcomes", default=None, metavar="FILE",
                    help="write each test's outcome, exception type and message as JSON")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fails_with(*faults): --dut-fault names that must each make this test fail "
                            "on the sim rig (proven by python -m harness.catalogue check-faults)")
    config.addinivalue_line("markers", "smoke: a quick end-to-end check that a rig works: a few per area and DUT "
                            "role (happy paths, basic field checks; seconds each on a real clock); "
                            "`pytest testcases -m smoke --rig=...` is the first run on a new bench")
    config.stash[_OUTCOMES] = {}


def faults_of(item: pytest.Item) -> list[str]:
    return [str(a) for m in item.iter_markers("fails_with") for a in m.args]


def _problems(item: pytest.Item, known: dict[str, str], roles: dict[str, str | None]) -> list[str]:
    from harness.plugin import _role

    out = []
    role = _role(item)
    for name in faults_of(item):
        if name not in known:
            out.append(f"{item.nodeid}: fails_with({name!r}): no such --dut-fault")
        elif roles.get(name) is not None and role is not None and roles[name] != role:
            out.append(f"{item.nodeid}: fails_with({name!r}) makes a {roles[name]} DUT faulty, the test's DUT is "
                       f"a {role}")
    return out


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    known, roles = dut_faults(), fault_roles()
    problems = [p for item in items for p in _problems(item, known, roles)]
    if problems:
        raise pytest.UsageError("ccs-hil: bad fails_with markers:\n  " + "\n  ".join(problems))
    target = config.getoption("--ccs-inventory")
    if target:
        _write(target, {"rootdir": str(config.rootpath), "tests": [_describe(item) for item in items]})


def _describe(item: pytest.Item) -> dict[str, Any]:
    from harness.plugin import _role, requirements_of

    path = Path(str(item.path))
    try:
        relative = path.relative_to(item.config.rootpath).as_posix()
    except ValueError:
        relative = path.as_posix()
    return {"nodeid": item.nodeid, "path": relative, "name": item.name,
            "doc": (getattr(item, "obj", None).__doc__ or "").strip().split("\n\n")[0] if hasattr(item, "obj") else "",
            "requirements": requirements_of(item), "faults": faults_of(item), "dut_role": _role(item),
            "needs": [str(a) for m in item.iter_markers("needs") for a in m.args]}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if item.config.getoption("--ccs-outcomes"):
        entry = item.config.stash[_OUTCOMES].setdefault(item.nodeid, {"nodeid": item.nodeid, "outcome": "passed"})
        if report.failed:
            entry["outcome"] = "failed" if report.when == "call" else "error"
            excinfo = call.excinfo
            entry.setdefault("phase", report.when)
            entry.setdefault("exception", excinfo.typename if excinfo else None)
            entry.setdefault("message", str(excinfo.value) if excinfo else str(report.longrepr))
        elif report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"
            entry["message"] = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = session.config.getoption("--ccs-outcomes")
    if target:
        _write(target, {"tests": list(session.config.stash[_OUTCOMES].values())})


def _write(target: str, data: dict[str, Any]) -> None:
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)


@pytest.fixture
def v2g(bench: Any) -> Any:
    """One V2G session under test: our stack as the tester against the DUT (harness.catalogue.v2g.V2G)."""
    from harness.catalogue.v2g import V2G

    return V2G(bench)
