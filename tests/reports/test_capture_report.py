"""A report built from a real field capture through the shared decoder (the path `ccs-hil analyse --report`
takes): sides inferred from the protocol, original capture kept, commented capture written, findings on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.capture.decode import CaptureDecoder
from reports.capture import build_capture_report
from reports.model import Failure
from tests.captures import CAPTURES

IONIQ = CAPTURES / "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"
needs_capture = pytest.mark.skipif(not IONIQ.is_file(), reason=f"{IONIQ} not present")


def decoded(path: Path):
    decoder = CaptureDecoder(path)
    return [decoder.meta(), *decoder]


@needs_capture
def test_capture_report_from_the_ioniq_session(tmp_path):
    records = decoded(IONIQ)
    finding = Failure("V2G-DC-116", "the SECC closed the TCP connection during CurrentDemand without "
                      "PowerDelivery/SessionStop")
    result = build_capture_report(records, tmp_path / "r", capture=IONIQ, findings=[finding])
    html = result.index.read_text()
    test = result.run.tests[0]
    assert test.outcome == "failed" and test.requirements == ["V2G-DC-116"]
    assert "V2G-DC-116: the SECC closed the TCP connection" in html
    assert (tmp_path / "r" / test.files["source_capture"]).read_bytes() == IONIQ.read_bytes()
    assert (tmp_path / "r" / test.files["capture"]).stat().st_size > 10_000
    assert "cc-seq" in html and "cc-resp" in html
    # without dir or role, the car side is learnt from its requests (SLAC, SDP) and its address
    from reports import analysis as an

    sides = an.Sides.learn(records)
    assert sides.by_address["04:65:65:00:64:c3"] == "pev"
    assert sides.by_address["fe80::665:65ff:fe00:64c3"] == "pev"
    assert sides.by_address["fe80::c690:83f3:fbcb:980e"] == "evse"
    v2g = [r for r in records if r.layer in ("v2gtp", "exi")]
    assert all(sides.sender(r) in ("pev", "evse") for r in v2g)
    # the report rebuilds from its recording alone
    from harness.cli import main

    assert main(["report", "-q", str(tmp_path / "r")]) == 0


@needs_capture
def test_clean_capture_passes(tmp_path):
    result = build_capture_report(decoded(IONIQ), tmp_path / "r", capture=IONIQ)
    assert result.run.verdict == "PASS" and result.run.tests[0].failure is None


@needs_capture
def test_modem_frames_go_to_their_host_side():
    from reports import analysis as an
    from reports.charts import sequence_rows

    records = decoded(IONIQ)
    sides = an.Sides.learn(records)
    assert sides.by_address["98:48:27:5a:3c:e4"] == "evse"  # pyPLC's modem, named by its SET_KEY.CNF
    local = [r for r in sequence_rows(records, None) if r.kind == "local"]
    assert local and all(r.sender == "evse" for r in local)
