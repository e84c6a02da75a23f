"""Replay the SLAC parts of the real captures into our machine of the opposite role; compare our answers with
the real ones field by field (structurally equal, except the fields named per case and why)."""

from __future__ import annotations

import pytest
from hp_helpers import COMPLEO, IONIQ, PYPLC_MAC, TAYCAN, homeplug_frames

from stack import sansio as io
from stack.homeplug import EvseSlac, EvseSlacConfig, PevSlac, PevSlacConfig
from stack.homeplug import frames as f

TAYCAN_MAC = "00:18:87:00:a1:d6"


class Driver:
    """Feeds one machine inputs at given times, serving its deadlines in between; keeps what it sent."""

    def __init__(self, machine, mac: str) -> None:
        self.m, self.now, self.sent = machine, 0.0, []
        self._take(machine.handle(io.Start(mac=mac), 0.0))

    def advance(self, t: float) -> None:
        while (deadline := self.m.next_deadline()) is not None and deadline <= t:
            self.now = max(self.now, deadline)
            self._take(self.m.handle(io.Tick(), self.now))
        self.now = max(self.now, t)

    def feed(self, frame: bytes, t: float) -> None:
        self.advance(t)
        self._take(self.m.handle(io.FrameReceived(frame), self.now))

    def _take(self, outputs) -> None:
        for out in outputs:
            if isinstance(out, io.SendFrame):
                self.sent.append((self.now, f.parse_frame(out.frame), out.frame))

    def named(self, name: str) -> list[f.Mme]:
        return [m for _, m, _ in self.sent if m.name == name]


def differing(ours: f.Mme, real: f.Mme) -> set[str]:
    a, b = _flat(ours.fields()), _flat(real.fields())
    assert a.keys() == b.keys(), f"{ours.name}: different fields"
    return {k for k in a if a[k] != b[k]}


def _flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def test_ioniq_car_against_our_evse():
    frames = [(t, f.parse_frame(b), b) for t, b in homeplug_frames(IONIQ)]
    real = {}
    for _, m, _ in frames:
        if m.src == PYPLC_MAC:
            real.setdefault(m.name, []).append(m)
    nmk = bytes(real["CM_SET_KEY.REQ"][0].body.NewKey)
    drv = Driver(EvseSlac(EvseSlacConfig(wait_for_cp=False, nmk=nmk)), PYPLC_MAC)
    t0 = frames[0][0]  # our start = pyPLC's CM_SET_KEY.REQ
    for t, m, raw in frames:
        if m.src != PYPLC_MAC:  # the car and pyPLC's modem speak; we answer instead of pyPLC
            drv.feed(raw, t - t0)
    assert drv.m.matched and drv.m.result.peer_mac == "04:65:65:00:64:c3"
    expected_differences = {
        "CM_SET_KEY.REQ": {"NetworkID"},  # pyPLC used a fixed NID 01..07, we derive it from the NMK
        "CM_SLAC_PARM.CNF": set(),
        "CM_ATTEN_CHAR.IND": {"NumberOfGroups", "Groups"},  # modem gave 0 groups; pyPLC invented 58 values
        "CM_SLAC_MATCH.CNF": {"VariableField.NetworkID"},
    }
    for name, allowed in expected_differences.items():
        ours = drv.named(name)
        assert len(ours) == len(real[name]), name  # e.g. both PARM.REQ repetitions answered
        for mine, theirs in zip(ours, real[name], strict=True):
            assert differing(mine, theirs) == allowed, name
            assert mine.src == theirs.src
            # pyPLC broadcasts CM_SET_KEY.REQ; we address the QCA local-modem address (both reach only the modem)
            assert mine.dst == (f.QUALCOMM_LOCAL_MAC if name == "CM_SET_KEY.REQ" else theirs.dst)
    assert not drv.named("CM_ATTEN_CHAR.IND")[0].body.Groups


def test_compleo_charger_against_our_pev():
    frames = [(t, f.parse_frame(b), b) for t, b in homeplug_frames(COMPLEO) if t > 51.0]
    charger = "80:1f:12:e8:e6:47"
    answers = {name: next(raw for _, m, raw in frames if m.name == name and m.src != PYPLC_MAC)
               for name in ("CM_SLAC_PARM.CNF", "CM_ATTEN_CHAR.IND", "CM_SLAC_MATCH.CNF", "CM_SET_KEY.CNF")}
    real = {}
    for _, m, raw in frames:
        if m.src == PYPLC_MAC and m.name not in real:
            real[m.name] = raw
    pev = PevSlac(PevSlacConfig(wait_for_cp=False, run_id="mac", join_check=False, rng=lambda n: b"\xff" * n))
    drv = Driver(pev, PYPLC_MAC)
    drv.feed(answers["CM_SLAC_PARM.CNF"], 0.05)
    drv.feed(answers["CM_ATTEN_CHAR.IND"], 0.6)  # the charger's IND while we are still sounding
    drv.advance(1.5)  # TT_EV_atten_results runs out → MATCH.REQ
    drv.feed(answers["CM_SLAC_MATCH.CNF"], 1.5)
    drv.feed(answers["CM_SET_KEY.CNF"], 1.6)
    assert pev.matched and pev.result.peer_mac == charger
    for name in ("CM_SLAC_PARM.REQ", "CM_START_ATTEN_CHAR.IND", "CM_MNBC_SOUND.IND", "CM_ATTEN_CHAR.RSP",
                 "CM_SLAC_MATCH.REQ", "CM_SET_KEY.REQ"):
        ours = next(raw for _, m, raw in drv.sent if m.name == name)
        if name == "CM_SET_KEY.REQ":
            assert f.parse_frame(ours).dst == f.QUALCOMM_LOCAL_MAC  # pyPLC broadcasts it; same body
            assert ours[6:] == real[name][6:]
        else:
            assert ours == real[name], name  # byte for byte what the real PEV (pyPLC) sent
    assert [m.body.Countdown for m in drv.named("CM_MNBC_SOUND.IND")] == list(range(9, -1, -1))


def test_taycan_requests_to_our_evse_get_their_random_run_id_echoed():
    frames = [(t, f.parse_frame(b), b) for t, b in homeplug_frames(TAYCAN)]
    drv = Driver(EvseSlac(EvseSlacConfig(wait_for_cp=False)), PYPLC_MAC)
    drv.feed(frames[1][2], 0.001)  # the modem's SET_KEY.CNF (Result 0x01)
    req = next(m for _, m, _ in frames if m.name == "CM_SLAC_PARM.REQ")
    drv.feed(next(raw for _, m, raw in frames if m.name == "CM_SLAC_PARM.REQ"), 11.9)
    ours = drv.named("CM_SLAC_PARM.CNF")[0]
    pyplc = next(m for _, m, _ in frames if m.name == "CM_SLAC_PARM.CNF")
    assert bytes(ours.body.RunID) == bytes(req.body.RunID) == bytes.fromhex("944dc3d0ed5abf0a")
    assert bytes(pyplc.body.RunID) == bytes.fromhex("00188700a1d60000")  # the bug in the capture
    assert differing(ours, pyplc) == {"RunID"}


def test_taycan_case_our_pev_ignores_the_wrong_run_id_and_retries_like_the_taycan():
    frames = [(t, f.parse_frame(b), b) for t, b in homeplug_frames(TAYCAN)]
    wrong_cnf = next(raw for _, m, raw in frames if m.name == "CM_SLAC_PARM.CNF")
    car = [t for t, m, _ in frames if m.name == "CM_SLAC_PARM.REQ"][:3]
    pev = PevSlac(PevSlacConfig(wait_for_cp=False))
    drv = Driver(pev, TAYCAN_MAC)
    for k in range(3):
        drv.feed(wrong_cnf, 0.2 * k + 0.06)  # pyPLC answered each request ~60–100 ms later
    drv.advance(0.61)
    reqs = [(t, m) for t, m, _ in drv.sent if m.name == "CM_SLAC_PARM.REQ"]
    assert len(reqs) == 3 and len({bytes(m.body.RunID) for _, m in reqs}) == 1
    ours = [t - reqs[0][0] for t, _ in reqs]
    theirs = [t - car[0] for t in car]
    assert ours == pytest.approx([0, 0.2, 0.4]) and theirs == pytest.approx(ours, abs=0.06)
    assert not drv.named("CM_START_ATTEN_CHAR.IND")  # never proceeded on the wrong CNF
    assert pev.state == "pause"  # attempt failed: no CM_SLAC_PARM.CNF (with our RunID)
