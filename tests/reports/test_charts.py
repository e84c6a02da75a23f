"""SVG charts: structure, not pixels (parsed as XML)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from reports import charts
from reports.svg import standalone

NS = {"s": "http://www.w3.org/2000/svg"}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(standalone(svg).split("\n", 1)[1])


def rows(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter("{http://www.w3.org/2000/svg}g") if "cc-row" in (g.get("class") or "")]


def texts(element: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in element.iter("{http://www.w3.org/2000/svg}text")]


def test_sequence_chart_lanes_messages_folds_and_violation(din_late):
    svg = charts.sequence_chart(din_late, "evse", chart_id="t1-seq")
    root = parse(svg)
    assert root.get("id") == "t1-seq"
    head = texts(root)[:8]
    assert "EV (PEV / EVCC)" in head and "Charger (EVSE / SECC)" in head and "DUT" in head
    kinds = [g.get("class").split()[1] for g in rows(root)]
    assert kinds.count("cc-k-fold") >= 3  # MNBC sounds, PreCharge loop, CurrentDemand loop (twice, around the violation)
    assert "cc-k-cp" in kinds and "cc-k-local" in kinds and "cc-k-test" in kinds
    violation = root.find(".//s:g[@id='t1-seq-viol']", NS)
    assert violation is not None
    assert int(violation.get("data-i")) == next(i for i, r in enumerate(din_late) if r.extra == {} and
                                                r.name == "CurrentDemandRes" and r.t > 19.9 and r.t < 20.4)
    said = " ".join(texts(violation))
    assert "V2G-DC-464" in said and "433.8 ms" in said
    # every record is either drawn or inside a fold
    drawn = {int(g.get("data-i")) for g in rows(root)}
    assert 1 in drawn and len(din_late) - 1 in drawn


def test_sequence_chart_without_role_uses_protocol_sides(din_pass):
    root = parse(charts.sequence_chart(din_pass, None))
    assert "DUT" not in texts(root)[:8]
    arrows = [g for g in rows(root) if "cc-k-msg" in g.get("class")]
    assert len(arrows) > 40


def test_fold_keeps_head_and_tail():
    from harness.records import Record

    records = [Record(0, "meta", "stream")]
    for n in range(30):
        records.append(Record(n, "exi", "CurrentDemandReq", dir="to_dut"))
        records.append(Record(n + 0.1, "exi", "CurrentDemandRes", dir="from_dut"))
    built = charts.sequence_rows(records, "evse")
    assert [r.kind for r in built] == ["msg"] * 4 + ["fold"] + ["msg"] * 2
    assert "27 more × CurrentDemandReq / CurrentDemandRes" in built[4].label
    assert built[-1].index == 60


def test_response_time_plot_marks_the_late_response(din_late, din_pass):
    root = parse(charts.response_time_plot(din_late, "evse"))
    bad = [c for c in root.iter("{http://www.w3.org/2000/svg}circle") if c.get("class") == "cc-pt-bad"]
    assert len(bad) == 2  # the late point + the legend's sample
    assert "OVER THE LIMIT" in "".join(bad[0].itertext())
    ok_root = parse(charts.response_time_plot(din_pass, "evse"))
    assert len([c for c in ok_root.iter("{http://www.w3.org/2000/svg}circle") if c.get("class") == "cc-pt-bad"]) == 1


def test_cp_and_power_plots(cp_sequence, din_pass):
    cp = parse(charts.cp_plot(cp_sequence))
    labels = texts(cp)
    assert {"A", "B", "C"} <= set(labels) and "PWM duty" in labels
    power = parse(charts.power_plot(din_pass))
    said = " ".join(texts(power))
    assert "PreCharge" in said and "CurrentDemand" in said and "limited by the EVSE" in said
    assert charts.power_plot(cp_sequence) is None
    assert charts.response_time_plot(cp_sequence) is None
    assert charts.cp_plot(din_pass[:5]) is not None


def test_long_trace_is_cut_but_keeps_the_violation():
    from harness.records import Record

    records = [Record(0, "meta", "stream")]
    for n in range(900):
        records.append(Record(n, "state", f"step {n}"))
    records.append(Record(1000, "test", "violation", body={"requirement": "R-1", "message": "boom"}))
    root = parse(charts.sequence_chart(records, "evse", chart_id="x"))
    assert root.find(".//s:g[@id='x-viol']", NS) is not None
    assert any("more rows not drawn" in t for t in texts(root))


def test_sim_rig_slac_run_as_the_runner_records_it():
    """`ccs-hil slac --role pev --sim --json` (data/slac_sim_pev.jsonl): both state machines notify, no DUT."""
    from pathlib import Path

    from harness.records import read_jsonl
    from reports import analysis as an

    records = read_jsonl(Path(__file__).parent / "data" / "slac_sim_pev.jsonl")
    rows = charts.sequence_rows(records, None)
    notes = {(r.label, r.sender) for r in rows if r.kind == "note"}
    assert ("slac_wait_parm_req", "evse") in notes and ("slac_wait_parm_cnf", "pev") in notes
    local = {(r.label, r.sender) for r in rows if r.kind == "local"}
    assert ("CM_SET_KEY.REQ", "evse") in local and ("CM_SET_KEY.REQ", "pev") in local
    assert ("CM_ATTEN_PROFILE.IND", "evse") in local  # the charger's modem, learnt from its SET_KEY.CNF
    exchanges = {e.name: e for e in an.exchanges(records)}
    assert abs(exchanges["CM_SLAC_PARM.REQ"].seconds - 0.0005) < 1e-9 and exchanges["CM_SLAC_PARM.REQ"].t == 0.2  # the retry
    assert exchanges["CM_SLAC_MATCH.REQ"].ok and exchanges["CM_SLAC_MATCH.REQ"].limit.name == "TT_match_response"
