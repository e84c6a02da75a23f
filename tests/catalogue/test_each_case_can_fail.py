"""Every catalogue test proven able to fail (issue 6): it passes against the clean simulated DUT and fails against
each DUT fault it declares, with a message naming its requirement. And the checker itself is proven to catch a
test that cannot fail, one that declares no fault, one whose failure says nothing about its requirement, one that
crashes instead of asserting, one that kills its process, and one that does not pass clean."""

from __future__ import annotations

import textwrap

import pytest

from harness.catalogue.faultcheck import REPO, check

FAKE_CATALOGUE = '''
import pytest

pytestmark = pytest.mark.dut_role("evse")


@pytest.mark.requirement("FAKE-1")
@pytest.mark.fails_with("evse-session-setup-code")
def test_good(v2g):
    v2g.start("din")
    v2g.expect_response("SessionSetup", code="OK_NewSessionEstablished")


@pytest.mark.requirement("FAKE-2")
@pytest.mark.fails_with("evse-session-setup-code")
def test_cannot_fail(v2g):
    v2g.start("din")
    v2g.expect("SessionSetupRes")  # any answer will do: the wrong ResponseCode goes unnoticed


@pytest.mark.requirement("FAKE-3")
def test_declares_no_fault(v2g):
    v2g.start("din")
    v2g.expect_response("SessionSetup", code="OK_NewSessionEstablished")


@pytest.mark.requirement("FAKE-4")
@pytest.mark.fails_with("evse-session-setup-code")
def test_fails_without_naming_its_requirement(v2g):
    v2g.start("din")
    response = v2g.expect("SessionSetupRes")
    assert v2g.code(response) == "OK_NewSessionEstablished"  # a plain assert names no requirement


@pytest.mark.requirement("FAKE-5")
@pytest.mark.fails_with("evse-session-setup-code")
def test_crashes(v2g):
    v2g.start("din")
    response = v2g.expect("SessionSetupRes")
    if v2g.code(response) != "OK_NewSessionEstablished":
        raise KeyError("FAKE-5 broke")  # names the requirement, but a crash is not a verdict


@pytest.mark.requirement("FAKE-7")
@pytest.mark.fails_with("evse-session-id-zero")
def test_kills_its_process(v2g):
    import os

    v2g.start("din")
    response = v2g.expect("SessionSetupRes")
    if (v2g.session_id(response) or "").strip("0") == "":
        os._exit(3)  # the worker dies: no verdict, and the check must say so instead of crashing


@pytest.mark.requirement("FAKE-6")
@pytest.mark.fails_with("evse-session-setup-code")
def test_fails_clean(v2g):
    v2g.start("din")
    v2g.expect_response("SessionSetup", code="OK")
'''


@pytest.mark.timeout(900)
def test_every_catalogue_test_passes_clean_and_fails_with_each_declared_fault():
    report = check(["testcases"], rootdir=REPO)
    print(report.summary())
    assert report.ok, report.summary()
    assert len(report.tests) >= 12
    for test in report.tests:  # every declared (test, fault) pair was run and failed
        for fault in test["faults"]:
            assert report.faulty[fault][test["nodeid"]]["outcome"] == "failed"


@pytest.mark.timeout(300)
def test_the_checker_catches_tests_that_cannot_prove_anything(tmp_path):
    folder = tmp_path / "testcases" / "fake"
    folder.mkdir(parents=True)
    (folder / "test_fake.py").write_text(textwrap.dedent(FAKE_CATALOGUE))
    report = check(["testcases"], rootdir=tmp_path, jobs=2)
    problems: dict[str, list[str]] = {}
    for problem in report.problems:
        problems.setdefault(problem.nodeid.split("::")[-1], []).append(f"[{problem.fault}] {problem.what}")
    print(report.summary())
    assert not report.ok
    assert "test_good" not in problems
    assert problems["test_cannot_fail"] == ["[evse-session-setup-code] passed instead of failing: the test cannot "
                                            "catch this fault"]
    assert problems["test_declares_no_fault"] == ["[None] declares no fault: add @pytest.mark.fails_with("
                                                  "<--dut-fault>) naming a DUT fault that must make it fail"]
    assert problems["test_fails_without_naming_its_requirement"] == [
        "[evse-session-setup-code] failed, but the message names none of FAKE-4: assert 'OK' == "
        "'OK_NewSessionEstablished'"]
    assert problems["test_crashes"] == ["[evse-session-setup-code] failed with KeyError, not an assertion: "
                                        "'FAKE-5 broke'"]
    assert problems["test_fails_clean"][0] == ("[None] does not pass against the clean DUT: failed: requirement "
                                               "FAKE-6 not met")
    assert len(problems["test_kills_its_process"]) == 1
    assert problems["test_kills_its_process"][0].startswith(
        "[evse-session-id-zero] not run instead of failing: the test cannot catch this fault (the pytest session died "
        "(exit None) before writing its outcomes")
    assert len(report.problems) == 7


def test_a_fails_with_marker_naming_an_unknown_or_wrong_role_fault_is_a_usage_error(tmp_path):
    from tests.plugin.helpers import run_pytest

    (tmp_path / "test_bad.py").write_text(textwrap.dedent('''
        import pytest

        @pytest.mark.dut_role("evse")
        @pytest.mark.requirement("FAKE-7")
        @pytest.mark.fails_with("gremlins", "pev-no-sdp")
        def test_x(v2g):
            pass
        '''))
    result = run_pytest("-q", "--co", cwd=tmp_path)
    assert result.returncode == 4
    assert "test_bad.py::test_x: fails_with('gremlins'): no such --dut-fault" in result.stderr
    assert ("test_bad.py::test_x: fails_with('pev-no-sdp') makes a pev DUT faulty, the test's DUT is a evse"
            in result.stderr)
