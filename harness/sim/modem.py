"""Emulated HomePlug Green PHY modems (QCA7420-like) on one emulated powerline.

`Powerline` is the I/O-free core: a frame a host hands to its modem (`from_host`) becomes a list of `Delivery`s —
frames for the host behind some modem, at some time. Two adapters give it ports:
- `ModemMedium` (here): the in-process `L2Medium` for the runner (sim rig), one modem per attached node;
- `harness.sim.bridge.HostBridge`: raw sockets on veth endpoints (simnet rig), one modem per interface.

What the modems do, as a real QCA7420 adaptor does it (PROTOCOL.md §A and the shared captures):
- answer CM_SET_KEY.REQ sent to them (own MAC, the QCA local address 00:b0:52:00:00:01, or broadcast) with
  CM_SET_KEY.CNF **Result 0x01** (the TP-Link quirk) and take the key after `key_apply_delay`;
- answer VS_SW_VER (also to a broadcast, also remote modems of the same AVLN, as the Compleo capture shows),
  VS_RS_DEV (reset: back to the key in the PIB), VS_PL_LNK_STATUS, VS_MODULE_OPERATION (PIB read; write session,
  write, commit with checksum check) and CM_GET_KEY;
- carry SLAC MMEs between all coupled modems whatever their keys (SLAC runs before the AVLN exists), learn which
  host sits behind which modem, and deliver unicast only there;
- for each CM_MNBC_SOUND.IND received over the line, pass the sound to the host and then emit CM_ATTEN_PROFILE.IND
  with `profile_groups` groups from the attenuation matrix (0 groups mimics the TP-Link of the Ioniq capture;
  `vendor_atten_ind` adds the Qualcomm 0xA14E frame it also sent);
- bridge all other frames (IPv6: SDP, TCP) only between modems holding the same NMK, `join_delay` after the later
  of the two got it — the private network exists only after a successful SLAC;
- faults on demand (`Fault`): drop, delay, corrupt (truncate or flip), wrong attenuation, ignore SET_KEY;
- listen mode (Qualcomm VS_SNIFFER.REQ on/off, answered with .CNF): while on, the modem reports each frame it sends
  or hears on the line as VS_SNIFFER.IND to the host that switched it on (the delimiter, not the payload).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from stack.homeplug import frames as f
from stack.homeplug import pib as pibmod
from stack.homeplug.keys import derive_nid

DEFAULT_VERSION = "MAC-QCA7420-1.4.0.20-00-20171027-CS"  # the TP-Link TL-PA4010P firmware pyPLC reports
VERSION_FIELD = 253  # bytes after VersionLen in the captured QCA7420 answer (297-byte frame)
NO_SIGNAL_DB = 90.0  # at or above this attenuation nothing gets across
NUM_GROUPS = 58


@dataclass
class Fault:
    """One injected fault. `mmtype` None matches every frame (data frames too), `modem` names the modem whose host
    would receive the frame (for `ignore_set_key`: the modem that ignores). `count` None = until removed."""

    kind: str  # drop | delay | corrupt | wrong_attenuation | ignore_set_key
    mmtype: int | None = None
    modem: str | None = None
    count: int | None = 1
    seconds: float = 0.0  # delay
    mode: str = "truncate"  # corrupt: "truncate" (cut the body) or "flip" (invert one body byte)
    db: float = 0.0  # wrong_attenuation: reported instead of the true value

    KINDS = ("drop", "delay", "corrupt", "wrong_attenuation", "ignore_set_key")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (known: {', '.join(self.KINDS)})")


@dataclass(frozen=True)
class Delivery:
    modem: str  # deliver to the host(s) behind this modem
    frame: bytes
    at: float
    source_host: str | None  # MAC of the host that sent it; None when the modem itself speaks


@dataclass
class EmulatedModem:
    name: str
    mac: str
    pib: bytes
    nmk: bytes = b""
    key_at: float = 0.0
    version: str = DEFAULT_VERSION
    device_id: int = 0x20
    hosts: set[str] = field(default_factory=set)
    resetting_until: float = -1.0
    write_session: dict | None = None
    sniffer: str | None = None  # VS_SNIFFER on: the host MAC that gets a VS_SNIFFER.IND per frame on the line
    tei: int = 0

    @property
    def nid(self) -> bytes:
        return derive_nid(self.nmk)


class Powerline:
    def __init__(self, *, latency: float = 0.0005, join_delay: float = 0.05, key_apply_delay: float = 0.0,
                 reset_time: float = 0.2, profile_groups: int = NUM_GROUPS, vendor_atten_ind: bool = False,
                 default_attenuation: float = 20.0) -> None:
        self.latency, self.join_delay, self.key_apply_delay = latency, join_delay, key_apply_delay
        self.reset_time, self.profile_groups, self.vendor_atten_ind = reset_time, profile_groups, vendor_atten_ind
        self.default_attenuation = default_attenuation
        self.modems: dict[str, EmulatedModem] = {}
        self.attenuation: dict[frozenset[str], float | list[int]] = {}
        self.faults: list[Fault] = []
        self.remote_hosts: dict[str, str] = {}  # host MAC -> modem it sits behind
        self.log: list[tuple[float, str, str]] = []  # (t, modem, what) for debugging and tests
        self._pending_keys: dict[str, tuple[float, bytes]] = {}

    # ---------------------------------------------------------------- setup

    def add_modem(self, name: str, mac: str | None = None, nmk: bytes | None = None) -> EmulatedModem:
        if name in self.modems:
            raise ValueError(f"modem {name!r} exists")
        index = len(self.modems) + 1
        mac = (mac or f"00:b0:52:00:10:{index:02x}").lower()
        nmk = nmk if nmk is not None else os.urandom(16)  # factory state: a key nobody else has
        modem = EmulatedModem(name, mac, pibmod.factory_image(f.mac_bytes(mac), nmk), nmk=nmk, key_at=-1e9, tei=index)
        self.modems[name] = modem
        return modem

    def set_attenuation(self, a: str, b: str, db: float | list[int]) -> None:
        """Coupling between two modems: a flat dB value or 58 per-group values (cross-talk staging)."""
        self.attenuation[frozenset((a, b))] = db

    def groups(self, a: str, b: str) -> list[int]:
        value = self.attenuation.get(frozenset((a, b)), self.default_attenuation)
        if isinstance(value, list):
            return list(value)
        return [int(round(value))] * NUM_GROUPS

    def coupled(self, a: str, b: str) -> bool:
        groups = self.groups(a, b)
        return sum(groups) / len(groups) < NO_SIGNAL_DB

    def add_fault(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    # ---------------------------------------------------------------- state

    def _settle(self, now: float) -> None:
        for name, (when, nmk) in list(self._pending_keys.items()):
            if when <= now:
                modem = self.modems[name]
                modem.nmk, modem.key_at = nmk, when
                del self._pending_keys[name]

    def same_network(self, a: str, b: str, now: float) -> bool:
        """Whether data frames pass between two modems: same NMK, both up, coupled, joined for `join_delay`."""
        self._settle(now)
        ma, mb = self.modems[a], self.modems[b]
        if a == b or ma.nmk != mb.nmk or not self.coupled(a, b):
            return False
        if now < ma.resetting_until or now < mb.resetting_until:
            return False
        return now >= max(ma.key_at, mb.key_at) + self.join_delay

    def nmk(self, name: str, now: float) -> bytes:
        """The key modem `name` uses at `now` (a key set with CM_SET_KEY counts once applied)."""
        self._settle(now)
        return self.modems[name].nmk

    def link_up(self, name: str, now: float) -> bool:
        return any(self.same_network(name, other, now) for other in self.modems if other != name)

    # ---------------------------------------------------------------- frames from a host

    def from_host(self, name: str, frame: bytes, now: float) -> list[Delivery]:
        self._settle(now)
        modem = self.modems[name]
        if now < modem.resetting_until or len(frame) < 14:
            return []
        src = f.mac_str(frame[6:12])
        dst = f.mac_str(frame[0:6])
        modem.hosts.add(src)
        self.remote_hosts[src] = name
        out: list[Delivery] = []
        if frame[12:14] == f.ETHERTYPE_HOMEPLUG.to_bytes(2, "big") and len(frame) >= 17:
            mmtype = int.from_bytes(frame[15:17], "little")
            local = dst in (modem.mac, f.QUALCOMM_LOCAL_MAC, f.BROADCAST)
            if local and mmtype in _LOCAL_REQUESTS:
                out += self._answer(modem, frame, mmtype, now)
                if not (dst == f.BROADCAST and mmtype == f.VS_SW_VER | f.REQ):
                    return self._apply_faults(out, now)
            remote = self._modem_by_mac(dst)
            if remote is not None and mmtype in _LOCAL_REQUESTS:
                if self.same_network(name, remote.name, now):
                    out += [_later(d, self.latency) for d in self._answer(remote, frame, mmtype, now)
                            if d.modem == remote.name]
                    out = [Delivery(name, d.frame, d.at, d.source_host) for d in out]
                return self._apply_faults(out, now)
            if mmtype == f.VS_SW_VER | f.REQ:  # broadcast: remote modems in our AVLN answer too
                for other in self.modems.values():
                    if other.name != name and self.same_network(name, other.name, now):
                        answer = self._sw_ver_cnf(other, src)
                        out.append(Delivery(name, answer, now + 2 * self.latency, None))
                return self._apply_faults(out, now)
            carried = self._apply_faults(self._carry(modem, frame, dst, src, now, slac=True), now)
            if mmtype == f.CM_MNBC_SOUND | f.IND:  # a modem that lost the sound cannot measure it either
                carried += self._apply_faults(self._profiles(modem, src, now, {d.modem for d in carried}), now)
            return self._apply_faults(out, now) + carried + self._sniffed(modem, frame, dst, now)
        else:
            out += self._carry(modem, frame, dst, src, now, slac=False)
            if any(self.same_network(name, other, now) for other in self.modems if other != name):
                out += self._sniffed(modem, frame, dst, now)
        return self._apply_faults(out, now)

    def _sniffed(self, sender: EmulatedModem, frame: bytes, dst: str, now: float) -> list[Delivery]:
        """Listen mode: every modem with VS_SNIFFER on reports the frame's delimiter to its host — Tx on the
        sending modem, Rx on every modem coupled to it, whatever the network key (the modem hears the line, it
        need not decrypt it). Start-of-frame, SNID from the sender's NID, TEIs from the modems."""
        out = []
        receiver = self._modem_by_mac(dst) or next((m for m in self.modems.values() if dst in m.hosts), None)
        dtei = 0xFF if frame[0] & 1 or receiver is None else receiver.tei
        length = max(1, min(0xFFF, round(len(frame) * 8 / 1.28 / 20)))  # FL_AV: payload airtime in 1.28 µs units
        fc = bytes([0x01 | ((sender.nid[-1] & 0x0F) << 4), sender.tei, dtei, 0x01, 0, 0, 0, 0,
                    length & 0xFF, length >> 8]) + bytes(6)
        for modem in self.modems.values():
            if modem.sniffer is None or now < modem.resetting_until:
                continue
            if modem is not sender and not self.coupled(sender.name, modem.name):
                continue
            body = f.VsSnifferInd(SnifferType=0, Direction=0 if modem is sender else 1,
                                  SystemTime=int(now * 25_000_000), BeaconTime=0, FrameControl=fc)
            out.append(Delivery(modem.name, f.make(modem.sniffer, modem.mac, body), now + self.latency, None))
        return out

    def _modem_by_mac(self, mac: str) -> EmulatedModem | None:
        return next((m for m in self.modems.values() if m.mac == mac), None)

    def _carry(self, modem: EmulatedModem, frame: bytes, dst: str, src: str, now: float, slac: bool) -> list[Delivery]:
        """Across the line: SLAC MMEs to every coupled modem, data only inside the AVLN; unicast where learned."""
        out = []
        behind = self.remote_hosts.get(dst)
        multicast = bool(frame[0] & 1)
        for other in self.modems.values():
            if other is modem or now < other.resetting_until:
                continue
            if slac and not self.coupled(modem.name, other.name):
                continue
            if not slac and not self.same_network(modem.name, other.name, now):
                continue
            if not multicast and (behind not in (None, other.name)
                                  or (behind is None and other.hosts and dst not in other.hosts)):
                continue
            out.append(Delivery(other.name, frame, now + self.latency, src))
        return out

    def _profiles(self, sender: EmulatedModem, pev_host: str, now: float, heard: set[str]) -> list[Delivery]:
        out = []
        for other in self.modems.values():
            if other.name not in heard:
                continue
            groups = self.groups(sender.name, other.name)[: self.profile_groups]
            for fault in self._matching(f.CM_ATTEN_PROFILE | f.IND, other.name, "wrong_attenuation"):
                groups = [int(round(fault.db))] * len(groups)
                self._consume(fault)
            body = f.CmAttenProfileInd(EVMACAddress=pev_host, NumberOfCarrierPerGroupe=0,
                                       Groups=[_group(g) for g in groups])
            at = now + self.latency + 1e-6  # after the sound itself (pyslac reads sound, then profile)
            if self.vendor_atten_ind:
                vs = f.make(f.BROADCAST, other.mac, f.VsAttenCharInd(PevMac=pev_host,
                                                                    Opaque=bytes.fromhex("000010") + b"\x00" * 31))
                out.append(Delivery(other.name, vs, at, None))
            out.append(Delivery(other.name, f.make(f.BROADCAST, other.mac, body), at, None))
        return out

    # ---------------------------------------------------------------- the modem's own answers

    def _answer(self, modem: EmulatedModem, frame: bytes, mmtype: int, now: float) -> list[Delivery]:
        try:
            mme = f.parse_frame(frame)
        except f.MalformedInput as exc:
            self.log.append((now, modem.name, f"malformed request ignored: {exc}"))
            return []
        host = mme.src
        reply = None
        if mmtype == f.CM_SET_KEY | f.REQ:
            if self._matching(mmtype, modem.name, "ignore_set_key", consume=True):
                self.log.append((now, modem.name, "SET_KEY ignored (fault)"))
                return []
            body = mme.body
            self._pending_keys[modem.name] = (now + self.key_apply_delay, bytes(body.NewKey))
            self.log.append((now, modem.name, f"SET_KEY nid={bytes(body.NetworkID).hex()}"))
            reply = f.CmSetKeyCnf(Result=0x01, MyNonce=int.from_bytes(os.urandom(4), "big"),
                                  YourNonce=mme.body.MyNonce, PID=body.PID, ProtoRunNumber=body.ProtoRunNumber,
                                  ProtoMessNumber=0xFF, CCoCapability=0)
        elif mmtype == f.CM_GET_KEY | f.REQ:
            reply = f.CmGetKeyCnf(Result=0, RequestedKeyType=1, MyNonce=0, YourNonce=mme.body.MyNonce,
                                  NetworkID=modem.nid, EncKeySelect=1, PID=4, ProtoMessNumber=0xFF, Key=modem.nmk)
        elif mmtype == f.VS_SW_VER | f.REQ:
            return [Delivery(modem.name, self._sw_ver_cnf(modem, host), now + self.latency, None)]
        elif mmtype == f.VS_PL_LNK_STATUS | f.REQ:
            reply = f.VsPlLnkStatusCnf(MStatus=0, LinkStatus=1 if self.link_up(modem.name, now) else 0)
        elif mmtype == f.VS_RS_DEV | f.REQ:
            reply = f.VsRsDevCnf(Status=0)
            cnf = Delivery(modem.name, f.make(host, modem.mac, reply), now + self.latency, None)
            modem.resetting_until = now + self.latency + self.reset_time
            modem.nmk = modem.pib[pibmod.OFF_NMK: pibmod.OFF_NMK + 16]  # back to the key in flash
            modem.key_at = modem.resetting_until
            self._pending_keys.pop(modem.name, None)
            modem.write_session = None
            self.log.append((now, modem.name, "reset"))
            return [cnf]
        elif mmtype == f.VS_MODULE_OPERATION | f.REQ:
            reply = self._module_operation(modem, mme.body, now)
        elif mmtype == f.VS_SNIFFER | f.REQ:
            control = mme.body.SnifferControl
            if control in (0, 1):
                modem.sniffer = host if control == 1 else None
                self.log.append((now, modem.name, f"sniffer {'on' if control else 'off'}"))
            reply = f.VsSnifferCnf(Status=0 if control in (0, 1) else 0x10)
        if reply is None:
            return []
        return [Delivery(modem.name, f.make(host, modem.mac, reply), now + self.latency, None)]

    def _sw_ver_cnf(self, modem: EmulatedModem, host: str) -> bytes:
        version = modem.version.encode("ascii") + b"\x00"
        body = f.VsSwVerCnf(Status=0, DeviceID=modem.device_id, Version=version,
                            Tail=b"\x00" * (VERSION_FIELD - len(version)) + b"\x00" * 21)
        return f.make(host, modem.mac, body)

    def _module_operation(self, modem: EmulatedModem, req, now: float):
        op = req.ModOp
        cnf = dict(NumOpData=1, ModOp=op, ModOpDataLen=req.ModOpDataLen)
        if op in (f.MOD_OP_READ_MEMORY, f.MOD_OP_READ_FLASH):
            if req.ModuleID != f.MODULE_ID_PIB:
                return f.VsModuleOperationCnf(MStatus=0x0001, ErrRecCode=1, **cnf)
            chunk = modem.pib[req.Offset: req.Offset + min(req.Length or 0, f.MODULE_CHUNK)]
            return f.VsModuleOperationCnf(MStatus=0, ModuleID=req.ModuleID, ModuleSubID=req.ModuleSubID,
                                          Offset=req.Offset, Data=chunk, **cnf)
        if op == f.MOD_OP_START_SESSION:
            specs = {m.ModuleID: m for m in req.Modules}
            if f.MODULE_ID_PIB not in specs:
                return f.VsModuleOperationCnf(MStatus=0x0001, SessionID=req.SessionID, **cnf)
            spec = specs[f.MODULE_ID_PIB]
            modem.write_session = {"id": req.SessionID, "length": spec.ModuleLength, "checksum":
                                   spec.ModuleChecksum, "data": bytearray(spec.ModuleLength)}
            return f.VsModuleOperationCnf(MStatus=0, SessionID=req.SessionID, **cnf)
        session = modem.write_session
        if session is None or session["id"] != req.SessionID:
            return f.VsModuleOperationCnf(MStatus=0x0002, SessionID=req.SessionID, **cnf)
        if op == f.MOD_OP_WRITE_MODULE:
            data, offset = bytes(req.Data), req.Offset
            if offset + len(data) > session["length"]:
                return f.VsModuleOperationCnf(MStatus=0x0003, SessionID=req.SessionID, **cnf)
            session["data"][offset: offset + len(data)] = data
            return f.VsModuleOperationCnf(MStatus=0, SessionID=req.SessionID, ModuleIdx=req.ModuleIdx,
                                          ModuleID=req.ModuleID, ModuleSubID=req.ModuleSubID,
                                          WrittenLength=len(data), Offset=offset, **cnf)
        if op == f.MOD_OP_CLOSE_SESSION:
            image = bytes(session["data"])
            modem.write_session = None
            try:
                if pibmod.checksum32(image) != session["checksum"]:
                    raise f.MalformedInput("PIB", 0, "module checksum does not match the session's")
                pibmod.validate(image)
            except f.MalformedInput as exc:
                self.log.append((now, modem.name, f"PIB write refused: {exc}"))
                return f.VsModuleOperationCnf(MStatus=0x0004, SessionID=req.SessionID, CommitCode=0, **cnf)
            modem.pib = image
            self.log.append((now, modem.name, "PIB committed to flash"))
            return f.VsModuleOperationCnf(MStatus=0, SessionID=req.SessionID, CommitCode=req.CommitCode, **cnf)
        return f.VsModuleOperationCnf(MStatus=0x00FF, **cnf)

    # ---------------------------------------------------------------- faults

    def _matching(self, mmtype: int | None, modem: str, kind: str, consume: bool = False) -> list[Fault]:
        found = [x for x in self.faults if x.kind == kind and (x.mmtype is None or x.mmtype == mmtype)
                 and (x.modem is None or x.modem == modem)]
        if consume:
            for fault in found:
                self._consume(fault)
        return found

    def _consume(self, fault: Fault) -> None:
        if fault.count is not None:
            fault.count -= 1
            if fault.count <= 0 and fault in self.faults:
                self.faults.remove(fault)

    def _apply_faults(self, deliveries: list[Delivery], now: float) -> list[Delivery]:
        if not self.faults:
            return deliveries
        out = []
        for d in deliveries:
            frame = d.frame
            mmtype = int.from_bytes(frame[15:17], "little") if frame[12:14] == b"\x88\xe1" else None
            dropped = False
            for fault in list(self.faults):
                if fault.kind not in ("drop", "delay", "corrupt"):
                    continue
                if (fault.mmtype is not None and fault.mmtype != mmtype) or (fault.modem not in (None, d.modem)):
                    continue
                self._consume(fault)
                self.log.append((now, d.modem, f"fault {fault.kind} on {f.mme_name(mmtype or 0)}"))
                if fault.kind == "drop":
                    dropped = True
                elif fault.kind == "delay":
                    d = Delivery(d.modem, frame, d.at + fault.seconds, d.source_host)
                elif fault.kind == "corrupt":
                    frame = frame[:22] if fault.mode == "truncate" else _flip(frame)
                    d = Delivery(d.modem, frame, d.at, d.source_host)
            if not dropped:
                out.append(d)
        return out


_LOCAL_REQUESTS = {f.CM_SET_KEY | f.REQ, f.CM_GET_KEY | f.REQ, f.VS_SW_VER | f.REQ, f.VS_PL_LNK_STATUS | f.REQ,
                   f.VS_RS_DEV | f.REQ, f.VS_MODULE_OPERATION | f.REQ, f.VS_SNIFFER | f.REQ}


def _later(d: Delivery, seconds: float) -> Delivery:
    return Delivery(d.modem, d.frame, d.at + seconds, d.source_host)


def _flip(frame: bytes) -> bytes:
    index = min(len(frame) - 1, 22)
    return frame[:index] + bytes([frame[index] ^ 0xFF]) + frame[index + 1:]


def _group(value: int):
    from scapy.contrib.homepluggp import HPGP_GROUP

    return HPGP_GROUP(group=max(0, min(255, int(value))))


# --------------------------------------------------------------------------- in-process medium


class ModemMedium:
    """The powerline as an in-process `L2Medium`: each attached node gets its own emulated modem."""

    def __init__(self, runner, line: Powerline | None = None, **line_options) -> None:
        self.runner = runner
        self.line = line or Powerline(**line_options)
        self.node_of_modem: dict[str, object] = {}
        self.modem_of_node: dict[str, str] = {}

    def attach(self, node, modem: str | None = None, nmk: bytes | None = None) -> _ModemPort:
        name = modem or f"{node.name}-modem"
        if name not in self.line.modems:
            self.line.add_modem(name, nmk=nmk)
        self.node_of_modem[name] = node
        self.modem_of_node[node.name] = name
        self.line.modems[name].hosts.add(node.mac.lower())
        node.l2 = _ModemPort(self, node, name)
        return node.l2

    def modem(self, node) -> EmulatedModem:
        return self.line.modems[self.modem_of_node[node.name if hasattr(node, "name") else node]]

    def reachable(self, a, b) -> bool:
        ma, mb = self.modem_of_node.get(a.name), self.modem_of_node.get(b.name)
        return ma is not None and mb is not None and self.line.same_network(ma, mb, self.runner.clock.now())

    def _send(self, node, modem: str, frame: bytes, now: float) -> None:
        from stack import sansio as io

        for d in self.line.from_host(modem, frame, now):
            target = self.node_of_modem.get(d.modem)
            if target is None:
                continue
            source = node.name if d.source_host is not None else None
            self.runner.deliver(target, io.FrameReceived(d.frame), at=d.at, source=source)


@dataclass
class _ModemPort:
    medium: ModemMedium
    node: object
    modem: str

    def send(self, frame: bytes, now: float) -> None:
        self.medium._send(self.node, self.modem, frame, now)

    def local_modems(self) -> set[str]:
        return {self.medium.line.modems[self.modem].mac, f.QUALCOMM_LOCAL_MAC}
