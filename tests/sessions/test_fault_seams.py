"""The settings that make our stack a faulty DUT for the catalogue (stack/sessions/fault_sets.py): each changes
exactly the behaviour it names."""

from __future__ import annotations

from stack.sessions.faults import Fault
from tests.sessions.helpers import ended, exi, make_pair


def test_sequence_timeout_setting_replaces_the_spec_timer():
    for setting, expected in ((None, 60.0), (5.0, 5.0)):
        pair = make_pair("din", evse={"sequence_timeout": setting} if setting else {},
                         pev_faults=[Fault("ServiceDiscoveryReq", "silence")])
        pair.run(seconds=200, until=lambda p=None: False)
        end = ended(pair, "evse")
        last = exi(pair)[-1]
        assert end is not None and abs((end.t - last.t) - expected) < 0.01, (setting, end)


def test_cp_detection_off_runs_the_insulation_test_with_the_pilot_in_B():
    for detection, finished in ((True, False), (False, True)):
        pair = make_pair("din", evse={"cp_detection": detection}, max_load="B")
        pair.run(seconds=60)
        codes = [r.body["V2G_Message"]["Body"]["CableCheckRes"]["EVSEProcessing"] for r in exi(pair, "CableCheckRes")]
        assert ("Finished" in codes) is finished


def test_loop_timeout_scale_stretches_only_the_loop_timers():
    pair = make_pair("din", evse={"power": {"isolation_time": 1e9}}, pev={"loop_timeout_scale": 2.0})
    pair.run(seconds=200)
    assert "2×V2G_EVCC_CableCheck_Timeout" in pair.pev.result.reason
    assert 79.9 < pair.runner.clock.now() < 81


def test_failed_retry_repeats_the_refused_request():
    pair = make_pair("din", evse={"close_on_failed": False}, pev={"failed_retry": True},
                     evse_faults=[Fault("ServicePaymentSelectionRes", "response_code", "FAILED")])
    pair.run(seconds=5, until=lambda: len(exi(pair, "ServicePaymentSelectionReq")) >= 2)
    assert len(exi(pair, "ServicePaymentSelectionReq")) >= 2
