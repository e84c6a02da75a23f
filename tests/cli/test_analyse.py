"""`ccs-hil analyse` on the shared captures: sessions, parties, durations, limits, the Taycan SLAC failure
explained, the Compleo charger's bad regulation visible in the power analysis, and the HTML report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.analyse.session import analyse
from harness.capture.decode import CaptureDecoder

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"
IONIQ = CAPTURES / "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"
COMPLEO = CAPTURES / "2023-04-19_compleo_pyPlc_lightbulb_failedBadRegulation.pcapng"
TAYCAN = CAPTURES / "2023-05-03_TaycanLeftside_slacFail.pcapng"


def ccs_hil(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=120)


def analysed(path: Path):
    decoder = CaptureDecoder(path)
    return analyse([decoder.meta(), *decoder], str(path), decoder.stats.frames)


def test_taycan_slac_failure_is_explained():
    a = analysed(TAYCAN)
    assert not a.sessions and len(a.slac) == 2 and not any(s.matched for s in a.slac)
    first, second = a.slac
    assert (first.run_id, second.run_id) == ("944dc3d0ed5abf0a", "f43ddf1bd990a3a8")
    assert first.parm_sends == 3 and first.wrong_run_ids == ["00188700a1d60000"] * 3
    assert "instead of echoing the car's 944dc3d0ed5abf0a" in first.outcome()
    echo = [f for f in a.findings if f.rule == "runid-echo"]
    assert len(echo) == 6 and all(f.requirement == "CCSHIL-SLAC-RUNID" for f in echo)
    assert a.parties["EV"]["MAC"] == ["00:18:87:00:a1:d6"] and a.parties["EVSE"]["MAC"] == ["dc:0e:a1:11:67:08"]
    result = ccs_hil("analyse", str(TAYCAN))
    assert result.returncode == 0, result.stderr
    assert "summary   2 SLAC attempts (0 matched); no V2G session; 7 findings" in result.stdout
    assert "CM_SLAC_PARM.CNF carried RunID 00188700a1d60000 instead of echoing the car's 944dc3d0ed5abf0a; the car " \
           "ignored it and sent CM_SLAC_PARM.REQ 3 times" in result.stdout


def test_compleo_bad_regulation_is_visible_in_the_power_analysis():
    a = analysed(COMPLEO)
    assert [s.protocol for s in a.sessions] == ["DIN SPEC 70121 (urn:din:70121:2012:MsgDef v2.0)"] * 2
    assert [attempt.matched for attempt in a.slac] == [True, True, False]
    assert a.empty_connections == {"reset by the EVSE": 22, "never answered": 27}
    second = a.sessions[1]
    assert second.power.limiter == "evse" and second.power.reason == "evse-regulation"
    assert "EV target 10 A at 230 V" in second.power.sentence and "EVSE present 0 A" in second.power.sentence
    last = [seg for seg in second.power_segments if seg.reason != "no-answer"][-1]
    assert last.target == "230 V / 10 A" and last.present.endswith("/ 0 A") and last.present.startswith("1–")
    assert last.status == "EVSE_EmergencyShutdown"
    samples_at_1v = [s for s in second.power_segments if s.present.startswith("1")]
    assert samples_at_1v
    assert any(f.rule == "power" and f.message.startswith("session 2: EVSE limits the current") for f in a.findings)
    assert all(s.ending.startswith("abnormal end: TCP closed by the EVSE during CurrentDemand") for s in a.sessions)
    assert not [f for f in a.findings if f.rule in ("sequence", "session-id", "response-time", "loop-time")]
    text = ccs_hil("analyse", str(COMPLEO)).stdout
    assert "EVSE (does not deliver)" in text and "230 V / 10 A" in text and "1–219.5 V / 0 A" in text


def test_ioniq_session_parties_durations_and_limits():
    a = analysed(IONIQ)
    (session,) = a.sessions
    assert session.evccid == "0465650064c3" and session.evseid == "5a5a3030303030"
    assert session.session_id == "0102030405060708" and session.schema == "din"
    assert (session.ev_port, session.evse_port) == (50106, 15118)
    assert session.slac.matched and session.slac.duration == pytest.approx(1.463, abs=0.001)
    assert session.sdp_seconds == pytest.approx(0.1038, abs=1e-3)
    counts = {name: n for name, _t, n in session.phases}
    assert counts["PreCharge"] == 11 and counts["CurrentDemand"] == 50
    stats = {s.name: s for s in session.stats}
    demand = stats["CurrentDemandReq"]
    assert demand.count == 50 and demand.limit_seconds == 0.25 and demand.over == 0
    assert demand.maximum == pytest.approx(0.178, abs=1e-3)
    loops = {loop.pair: loop for loop in session.loops}
    assert loops["PreCharge"].limit.name == "V2G_EVCC_PreCharge_Timeout" and loops["PreCharge"].ok
    assert session.power.limiter == "evse" and session.power.reason == "evse-limit-flag"
    assert "EVSECurrentLimitAchieved" in session.power.sentence
    assert [f.rule for f in a.findings] == ["session-end"]
    link = {s.name: s for s in a.link_stats}
    assert link["CM_SLAC_PARM.REQ"].limit.startswith("TT_match_response") and link["SDP.REQ"].over == 0


def test_json_and_html_report(tmp_path):
    result = ccs_hil("analyse", str(IONIQ), "--json", "--report", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["sessions"][0]["evccid"] == "0465650064c3" and data["sessions"][0]["power"]["limiter"] == "evse"
    html = (tmp_path / "r" / "index.html").read_text()
    assert "session 1 (DIN SPEC 70121)" in html and "abnormal end" in html and "cc-seq" in html
    assert (tmp_path / "r" / "analysis.txt").read_text().startswith("ccs-hil analyse ")
    assert json.loads((tmp_path / "r" / "analysis.json").read_text())["frames"] == 730
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    assert [t["outcome"] for t in run["tests"]] == ["failed"]
    assert ccs_hil("report", "-q", str(tmp_path / "r")).returncode == 0  # the recording rebuilds alone


def test_taycan_report_fails_with_the_runid_finding_on_top(tmp_path):
    result = ccs_hil("analyse", str(TAYCAN), "--report", str(tmp_path / "r"))
    assert result.returncode == 0
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    (test,) = run["tests"]
    assert test["outcome"] == "failed" and test["failure"]["requirement"] == "CCSHIL-SLAC-RUNID"
    assert "944dc3d0ed5abf0a" in test["failure"]["sentence"]


def test_unreadable_capture_exits_2_with_one_line(tmp_path):
    result = ccs_hil("analyse", str(tmp_path / "nope.pcap"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no such file" in result.stderr
