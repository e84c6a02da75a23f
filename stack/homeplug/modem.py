"""Modem management as a sans-IO endpoint: discover adaptors, read version, set key, reset, link status, PIB.

`ModemClient(ops)` runs a list of operations one after the other against the local modem (or a given modem MAC).
Each operation is a small generator that yields requests and gets the confirmations back, so the request/answer
bookkeeping (matching the CNF, `TT_modem_response` timeouts) lives in one place. Results are kept in
`client.results` (one dict per operation, `ok` True/False) and announced as `Notify("state", "modem_<op>")`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from scapy.packet import Packet

from stack import sansio as io
from stack.homeplug import frames as f
from stack.homeplug import pib as pibmod
from stack.homeplug.keys import derive_nid
from stack.homeplug.timers import TT_modem_response
from stack.timers import SpecTimer

# the PIB write is slow on real adaptors (flash erase): open-plc-utils allows 90 s per write, 10 s for commit
TT_module_write = SpecTimer("TT_module_write", 90.0, "open-plc-utils PLC_MODULE_WRITE_TIMEOUT")
T_reset_poll = SpecTimer("T_reset_poll", 0.5, "ccs-hil: one VS_SW_VER probe while the adaptor restarts")
C_reset_polls = 20  # → the adaptor must be back within 10 s of VS_RS_DEV


class ModemError(Exception):
    """The modem did not answer, or answered with a failure status."""


@dataclass
class Request:
    dst: str
    body: Packet
    answer: int  # MMTYPE of the confirmation we wait for
    timer: SpecTimer = TT_modem_response


@dataclass
class Collect:
    """Send once, gather every answer during the timer (broadcast discovery)."""

    dst: str
    body: Packet
    answer: int
    timer: SpecTimer = TT_modem_response


Op = Callable[["ModemClient"], Generator[Request | Collect, Any, dict[str, Any]]]


def _named(name: str, run: Op) -> Op:
    run.__name__ = name  # the generator carries it, so a failed operation is reported by name
    return run


# ------------------------------------------------------------------------------------------ operations


def discover() -> Op:
    def run(client: ModemClient):
        answers = yield Collect(f.BROADCAST, f.VsSwVerReq(), f.VS_SW_VER | f.CNF)
        modems = [_version_info(m) for m in answers]
        return {"op": "discover", "ok": True, "modems": modems}
    return _named("discover", run)


def version(target: str = f.QUALCOMM_LOCAL_MAC) -> Op:
    def run(client: ModemClient):
        cnf = yield Request(target, f.VsSwVerReq(), f.VS_SW_VER | f.CNF)
        return {"op": "version", "ok": cnf.body.Status == 0, **_version_info(cnf)}
    return _named("version", run)


def set_key(nmk: bytes, target: str = f.QUALCOMM_LOCAL_MAC) -> Op:
    def run(client: ModemClient):
        nid = derive_nid(nmk)
        cnf = yield Request(target, f.CmSetKeyReq(KeyType=1, MyNonce=0xAAAAAAAA, PID=4, NetworkID=nid,
                                                  NewEncKeySelect=1, NewKey=nmk), f.CM_SET_KEY | f.CNF)
        # HomePlug: 0 = success; QCA adaptors answer 1 when they applied the key (PROTOCOL.md §A.3)
        return {"op": "set_key", "ok": cnf.body.Result in (0, 1), "result": cnf.body.Result, "modem": cnf.src,
                "nid": nid.hex(), "nmk": nmk.hex()}
    return _named("set_key", run)


def reset(target: str = f.QUALCOMM_LOCAL_MAC) -> Op:
    def run(client: ModemClient):
        cnf = yield Request(target, f.VsRsDevReq(), f.VS_RS_DEV | f.CNF)
        if cnf.body.Status == 0:
            yield from _wait_back(target)
        return {"op": "reset", "ok": cnf.body.Status == 0, "modem": cnf.src}
    return _named("reset", run)


def link_status(target: str = f.QUALCOMM_LOCAL_MAC) -> Op:
    def run(client: ModemClient):
        cnf = yield Request(target, f.VsPlLnkStatusReq(), f.VS_PL_LNK_STATUS | f.CNF)
        return {"op": "link_status", "ok": cnf.body.MStatus == 0, "link": bool(cnf.body.LinkStatus),
                "modem": cnf.src}
    return _named("link_status", run)


def pib_read(target: str = f.QUALCOMM_LOCAL_MAC) -> Op:
    def run(client: ModemClient):
        image = bytearray()
        total = None
        while total is None or len(image) < total:
            want = f.MODULE_CHUNK if total is None else min(f.MODULE_CHUNK, total - len(image))
            cnf = yield Request(target, f.VsModuleOperationReq(ModOp=f.MOD_OP_READ_MEMORY, ModOpDataLen=16,
                                                               ModuleID=f.MODULE_ID_PIB, Length=want,
                                                               Offset=len(image)),
                                f.VS_MODULE_OPERATION | f.CNF)
            if cnf.body.MStatus != 0:
                raise ModemError(f"PIB read refused at offset {len(image)} (MStatus 0x{cnf.body.MStatus:04x})")
            chunk = bytes(cnf.body.Data)
            if not chunk:
                raise ModemError(f"PIB read returned no data at offset {len(image)}")
            image += chunk
            if total is None:
                total = pibmod.pib_length(bytes(image))
        pibmod.validate(bytes(image), "PIB read from the modem")
        return {"op": "pib_read", "ok": True, "modem": cnf.src, "pib": bytes(image)}
    return _named("pib_read", run)


def pib_write(image: bytes, target: str = f.QUALCOMM_LOCAL_MAC, session_id: int | None = None) -> Op:
    """open-plc-utils' sequence: start session (module length + checksum), write 1400-byte records, commit;
    then reset so the adaptor runs with the new parameters."""
    def run(client: ModemClient):
        pibmod.validate(image, "PIB to write")
        sid = session_id if session_id is not None else int.from_bytes(client.rng(4), "little")
        spec = f.ModuleSpec(ModuleID=f.MODULE_ID_PIB, ModuleLength=len(image),
                            ModuleChecksum=pibmod.checksum32(image))
        cnf = yield Request(target, f.VsModuleOperationReq(ModOp=f.MOD_OP_START_SESSION, SessionID=sid,
                                                           Modules=[spec]), f.VS_MODULE_OPERATION | f.CNF)
        _check(cnf, "start write session")
        for offset in range(0, len(image), f.MODULE_CHUNK):
            chunk = image[offset: offset + f.MODULE_CHUNK]
            cnf = yield Request(target, f.VsModuleOperationReq(ModOp=f.MOD_OP_WRITE_MODULE, SessionID=sid,
                                                               ModuleID=f.MODULE_ID_PIB, Offset=offset,
                                                               Data=chunk),
                                f.VS_MODULE_OPERATION | f.CNF, TT_module_write)
            _check(cnf, f"write at offset {offset}")
        cnf = yield Request(target, f.VsModuleOperationReq(ModOp=f.MOD_OP_CLOSE_SESSION, SessionID=sid),
                            f.VS_MODULE_OPERATION | f.CNF, TT_module_write)
        _check(cnf, "commit")
        rst = yield Request(target, f.VsRsDevReq(), f.VS_RS_DEV | f.CNF)
        if rst.body.Status != 0:
            raise ModemError("reset after the PIB write refused")
        yield from _wait_back(target)
        return {"op": "pib_write", "ok": True, "modem": cnf.src, "bytes": len(image)}
    return _named("pib_write", run)


def _wait_back(target: str):
    """After VS_RS_DEV the adaptor is silent while it restarts: probe until it answers again."""
    for _ in range(C_reset_polls):
        try:
            return (yield Request(target, f.VsSwVerReq(), f.VS_SW_VER | f.CNF, T_reset_poll))
        except ModemError:
            continue
    raise ModemError(f"adaptor {target} did not come back within {C_reset_polls} × {T_reset_poll} after reset")


def _check(cnf: f.Mme, what: str) -> None:
    if cnf.body.MStatus != 0:
        raise ModemError(f"{what}: modem refused (MStatus 0x{cnf.body.MStatus:04x})")


def _version_info(mme: f.Mme) -> dict[str, Any]:
    return {"mac": mme.src, "device_id": mme.body.DeviceID,
            "device": f.DEVICE_IDS.get(mme.body.DeviceID, f"0x{mme.body.DeviceID:02x}"),
            "version": mme.body.version}


# ------------------------------------------------------------------------------------------ the endpoint


class ModemClient:
    def __init__(self, ops: list[Op], rng: Callable[[int], bytes] | None = None) -> None:
        self.ops = list(ops)
        self.rng = rng or os.urandom
        self.mac = "02:00:00:00:00:01"
        self.results: list[dict[str, Any]] = []
        self._gen: Generator | None = None
        self._waiting: Request | Collect | None = None
        self._collected: list[f.Mme] = []
        self._deadline: float | None = None
        self._out: list[io.Output] = []

    @property
    def done(self) -> bool:
        return self._gen is None and not self.ops and self._deadline is None

    @property
    def ok(self) -> bool:
        return self.done and all(r.get("ok") for r in self.results)

    def next_deadline(self) -> float | None:
        return self._deadline

    def handle(self, event: io.Input, now: float) -> list[io.Output]:
        self._out = []
        if isinstance(event, io.Start):
            self.mac = event.mac.lower()
            self._next_op(now)
        elif isinstance(event, io.Tick) and self._deadline is not None and now >= self._deadline:
            self._deadline = None
            waiting, self._waiting = self._waiting, None
            if isinstance(waiting, Collect):
                self._resume(now, send=list(self._collected))
            elif waiting is not None:
                self._resume(now, throw=ModemError(f"no {f.mme_name(waiting.answer)} from {waiting.dst} within "
                                                   f"{waiting.timer}"))
        elif isinstance(event, io.FrameReceived) and self._waiting is not None:
            mme = f.try_parse(event.frame)
            if mme is None or mme.mmtype != self._waiting.answer or mme.dst != self.mac:
                return self._out
            if isinstance(self._waiting, Collect):
                if all(m.src != mme.src for m in self._collected):
                    self._collected.append(mme)
            else:
                self._deadline, self._waiting = None, None
                self._resume(now, send=mme)
        return self._out

    def _next_op(self, now: float) -> None:
        while self._gen is None and self.ops:
            self._gen = self.ops.pop(0)(self)
            self._resume(now, send=None)

    def _resume(self, now: float, send: Any = None, throw: BaseException | None = None) -> None:
        assert self._gen is not None
        try:
            step = self._gen.throw(throw) if throw is not None else self._gen.send(send)
        except StopIteration as stop:
            self._record(stop.value)
        except (ModemError, f.MalformedInput) as exc:
            self._record({"op": self._gen.__name__, "ok": False, "error": str(exc)})
            self.ops.clear()  # later operations depend on this one (e.g. reset after write)
        else:
            self._waiting, self._collected = step, []
            self._deadline = now + step.timer.seconds
            self._out.append(io.SendFrame(f.make(step.dst, self.mac, step.body)))
            return
        self._gen = None
        self._next_op(now)

    def _record(self, result: dict[str, Any]) -> None:
        self.results.append(result)
        shown = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in result.items() if k != "pib"}
        self._out.append(io.Notify("state", f"modem_{result.get('op', 'op')}", shown))
