"""Regenerate the report fixtures in this folder from the shared Ioniq capture (see README.md here).

    .venv/bin/python tests/reports/data/make_fixtures.py [/path/to/shared/captures]

The timelines are what a live run of the catalogue would record on a hardware rig where OUR PEV (the car side of
the capture, a Hyundai Ioniq) tests a charger DUT (the EVSE side, pyPLC): real HomePlug frames and real V2GTP/EXI
bytes with their capture times, EXI bodies in the issue-2 dict form (built from the capture's .decoded.txt), TCP
and SDP records, and — because a capture has no pilot — CP records and a few state/test records added around them.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CAPTURE = "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"
CAR_MAC, CAR_IP = "04:65:65:00:64:c3", "fe80::665:65ff:fe00:64c3"
DUT_HOST_MAC, DUT_MODEM_MAC, DUT_IP = "dc:0e:a1:11:67:08", "98:48:27:5a:3c:e4", "fe80::c690:83f3:fbcb:980e"
OUR_MODEM_MAC = "02:13:37:00:00:01"
PREAMBLE = 2.0  # seconds of CP activity before the first captured frame

MME = {0x6008: "CM_SET_KEY", 0x6064: "CM_SLAC_PARM", 0x6068: "CM_START_ATTEN_CHAR", 0x606C: "CM_ATTEN_CHAR",
       0x6074: "CM_MNBC_SOUND", 0x607C: "CM_SLAC_MATCH", 0x6084: "CM_ATTEN_PROFILE", 0xA000: "VS_SW_VER"}


def mme_name(mmtype: int) -> str:
    base = mmtype & ~3
    return MME[base] + (".REQ", ".CNF", ".IND", ".RSP")[mmtype & 3] if base in MME else f"MME 0x{mmtype:04x}"


def _value(text: str):
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def decoded_messages(path: Path) -> list[tuple[str, str, dict]]:
    """(exi hex, message name, dict-form body) per decoded packet, in file order."""
    out = []
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        head = re.match(r"Packet #\d+ \[[^\]]+\] ([0-9a-f]+) means:", line)
        if head:
            current = {"hex": head.group(1), "fields": {}}
            out.append(current)
            continue
        field = re.match(r'^"([^"]+)": "(.*)",?$', line.strip())
        if field and current is not None:
            current["fields"].setdefault(field.group(1), field.group(2))
    result = []
    for item in out:
        fields = item["fields"]
        name = fields.get("msgName", "")
        if not name:
            result.append((item["hex"], "", {}))
            continue
        message: dict = {}
        for key, value in fields.items():
            if key in ("msgName", "info", "error", "result", "schema", "g_errn", "debug") or key.startswith("header.") \
                    or key.endswith("_isUsed") or key.endswith(".bytesLen") or key.endswith("Text"):
                continue
            node = message
            parts = key.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = _value(value)
        for key, value in list(message.items()):  # the reference decoder shows unset limits as 0 with unit "h"
            if isinstance(value, dict) and value.get("Unit") == "h":
                del message[key]
        header = {"SessionID": fields.get("header.SessionID", "")}
        result.append((item["hex"], name, {"V2G_Message": {"Header": header, "Body": {name: message}}}))
    return result


def build(captures: Path) -> list[dict]:
    from scapy.all import TCP, UDP, Ether, IPv6, rdpcap

    packets = rdpcap(str(captures / CAPTURE))
    decoded = decoded_messages(captures / (CAPTURE + ".decoded.txt"))
    first = next(float(p.time) for p in packets if p.haslayer(Ether) and p[Ether].type == 0x88E1
                 and bytes(p)[15:17] == b"\x64\x60")  # the car's first CM_SLAC_PARM.REQ
    epoch = first - PREAMBLE
    records: list[dict] = [{"t": 0.0, "layer": "meta", "name": "stream", "src": None, "dst": None,
                            "clock": "monotonic", "epoch": round(epoch, 6), "tool": "ccs-hil 0.1.0",
                            "rig": "ioniq-capture-fixture"}]

    def add(t: float, **fields) -> None:
        records.append({"t": round(t, 6), "src": None, "dst": None, **fields})

    add(0.05, layer="cp", name="state A", dst="pev", body={"state": "A", "duty": None, "volts": 12.0})
    add(0.40, layer="test", name="plug in: our PEV switches its CP load to B")
    add(0.50, layer="cp", name="load", src="pev", body={"state": "B"})
    add(0.52, layer="cp", name="state B", dst="pev", body={"state": "B", "duty": None, "volts": 8.9})
    add(1.21, layer="cp", name="state B", dst="pev", body={"state": "B", "duty": 5.0, "volts": 8.9})
    seen_segments: set[tuple[str, int, int]] = set()
    exi_queue = [d for d in decoded]
    sap_offered = {"supportedAppProtocolReq": {"AppProtocol": [
        {"ProtocolNamespace": "urn:din:70121:2012:MsgDef", "VersionNumberMajor": 2, "VersionNumberMinor": 0,
         "SchemaID": 1, "Priority": 1}]}}
    sap_answer = {"supportedAppProtocolRes": {"ResponseCode": "OK_SuccessfulNegotiation", "SchemaID": 1}}
    state_c_done = False
    last_exi_t = 0.0
    for packet in packets:
        t = float(packet.time) - epoch
        if packet.haslayer(Ether) and packet[Ether].type == 0x88E1:
            frame = bytes(packet)
            src, dst = packet[Ether].src.lower(), packet[Ether].dst.lower()
            mmtype = int.from_bytes(frame[15:17], "little")
            if CAR_MAC not in (src, dst) or t < PREAMBLE:
                continue  # between the DUT host and its own modem: our tester does not see these
            direction = "to_dut" if src == CAR_MAC else "from_dut"
            add(t, layer="homeplug", name=mme_name(mmtype), src=src, dst=dst, dir=direction, mmtype=mmtype,
                raw=frame.hex())
            if mmtype == 0x607D:  # SLAC_MATCH.CNF: our PEV keys its modem, then reads the DUT modem's firmware
                nmk = frame[-16:]
                set_key = bytes.fromhex(OUR_MODEM_MAC.replace(":", "")) + bytes.fromhex(CAR_MAC.replace(":", "")) \
                    + b"\x88\xe1\x01\x08\x60\x00\x00" + b"\x01\xaa\xbb\xcc\xdd\x00\x00\x00\x00\x04\x00" + bytes(8) \
                    + b"\x01\x00" + nmk
                add(t + 0.002, layer="homeplug", name="CM_SET_KEY.REQ", src=CAR_MAC, dst=OUR_MODEM_MAC,
                    mmtype=0x6008, raw=set_key.hex())
                cnf = bytes.fromhex(CAR_MAC.replace(":", "")) + bytes.fromhex(OUR_MODEM_MAC.replace(":", "")) \
                    + b"\x88\xe1\x01\x09\x60\x00\x00\x00" + bytes(20)
                add(t + 0.012, layer="homeplug", name="CM_SET_KEY.CNF", src=OUR_MODEM_MAC, dst=CAR_MAC,
                    mmtype=0x6009, raw=cnf.hex())
                add(t + 0.013, layer="state", name="slac matched", src="pev",
                    body={"nmk_set": True, "evse_mac": DUT_HOST_MAC})
                ver_req = bytes.fromhex(DUT_MODEM_MAC.replace(":", "")) + bytes.fromhex(CAR_MAC.replace(":", "")) \
                    + b"\x88\xe1\x00\x00\xa0\x00\xb0\x52"
                add(t + 0.020, layer="homeplug", name="VS_SW_VER.REQ", src=CAR_MAC, dst=DUT_MODEM_MAC,
                    dir="to_dut", mmtype=0xA000, raw=ver_req.hex())
                version = "MAC-QCA7420-1.4.0.20-00-20171027-CS"
                ver_cnf = bytes.fromhex(CAR_MAC.replace(":", "")) + bytes.fromhex(DUT_MODEM_MAC.replace(":", "")) \
                    + b"\x88\xe1\x00\x01\xa0\x00\xb0\x52\x00\x20" + bytes([len(version)]) + version.encode()
                add(t + 0.031, layer="homeplug", name="VS_SW_VER.CNF", src=DUT_MODEM_MAC, dst=CAR_MAC,
                    dir="from_dut", mmtype=0xA001, raw=ver_cnf.hex(), body={"version": version})
            continue
        if not packet.haslayer(IPv6):
            continue
        ip = packet[IPv6]
        if packet.haslayer(UDP) and 15118 in (packet[UDP].sport, packet[UDP].dport):
            udp = packet[UDP]
            payload = bytes(udp.payload)
            kind = int.from_bytes(payload[2:4], "big")
            name = {0x9000: "SDP.REQ", 0x9001: "SDP.RES"}.get(kind, f"V2GTP 0x{kind:04x}")
            body = {"security": f"0x{payload[8]:02x}", "transport": f"0x{payload[9]:02x}"} if kind == 0x9000 else {
                "ip": DUT_IP, "port": int.from_bytes(payload[24:26], "big"), "security": f"0x{payload[26]:02x}",
                "transport": f"0x{payload[27]:02x}"}
            add(t, layer="sdp", name=name, src=f"[{ip.src}]:{udp.sport}", dst=f"[{ip.dst}]:{udp.dport}",
                dir="to_dut" if ip.src == CAR_IP else "from_dut", raw=payload.hex(), body=body)
            continue
        if not packet.haslayer(TCP) or 15118 not in (packet[TCP].sport, packet[TCP].dport):
            continue
        tcp = packet[TCP]
        flags = str(tcp.flags)
        if flags == "S":
            add(t, layer="tcp", name="connect", src=CAR_IP, dst=f"[{ip.dst}]:{tcp.dport}", conn=1)
            continue
        if flags == "SA":
            add(t, layer="tcp", name="open", src=f"[{ip.src}]:{tcp.sport}", dst=f"[{ip.dst}]:{tcp.dport}", conn=1)
            continue
        if "F" in flags:
            if ip.src == DUT_IP:
                add(last_exi_t + 0.05, layer="cp", name="load", src="pev", body={"state": "B"})
                add(last_exi_t + 0.051, layer="cp", name="state B", dst="pev",
                    body={"state": "B", "duty": 5.0, "volts": 8.9})
                add(t, layer="tcp", name="closed", dst=CAR_IP, conn=1)
            else:
                add(t, layer="tcp", name="close", src=CAR_IP, conn=1)
            continue
        payload = bytes(tcp.payload)
        if not payload:
            continue
        key = (ip.src, tcp.seq, len(payload))
        if key in seen_segments:
            continue  # TCP retransmission: the application saw it once
        seen_segments.add(key)
        exi = payload[8:].hex()
        while exi_queue and exi_queue[0][0] != exi:
            exi_queue.pop(0)
        _, name, body = exi_queue.pop(0) if exi_queue else ("", "", {})
        schema = "din"
        if payload[8:10] == b"\x80\x00":
            name, body, schema = "supportedAppProtocolReq", sap_offered, "apphand"
        elif payload[8:10] == b"\x80\x40":
            name, body, schema = "supportedAppProtocolRes", sap_answer, "apphand"
        if name == "CableCheckReq" and not state_c_done:
            add(t - 0.02, layer="cp", name="load", src="pev", body={"state": "C"})
            add(t - 0.019, layer="cp", name="state C", dst="pev", body={"state": "C", "duty": 5.0, "volts": 5.9})
            state_c_done = True
        from_car = ip.src == CAR_IP
        add(t, layer="exi", name=name, src=ip.src, dst=ip.dst, dir="to_dut" if from_car else "from_dut",
            schema=schema, raw=payload.hex(), body=body)
        last_exi_t = t
        if name == "SessionSetupRes":
            add(t + 0.0005, layer="state", name="session established", src="pev",
                body={"session_id": body["V2G_Message"]["Header"]["SessionID"]})
    end = records[-1]["t"]
    add(end + 0.1, layer="cp", name="state B", dst="pev", body={"state": "B", "duty": None, "volts": 8.9})
    add(end + 0.3, layer="cp", name="load", src="pev", body={"state": "A"})
    add(end + 0.301, layer="cp", name="state A", dst="pev", body={"state": "A", "duty": None, "volts": 12.0})
    records.sort(key=lambda r: r["t"])
    return records


def make_late(records: list[dict], which: int = 20, delay: float = 0.29) -> list[dict]:
    """The same run with the DUT's `which`-th CurrentDemandRes late, and the assertion's violation record."""
    out = [dict(r) for r in records]
    responses = [i for i, r in enumerate(out) if r.get("name") == "CurrentDemandRes"]
    late = responses[which]
    request = max(i for i in range(late) if out[i].get("name") == "CurrentDemandReq")
    for record in out[late:]:
        record["t"] = round(record["t"] + delay, 6)
    took = (out[late]["t"] - out[request]["t"]) * 1000
    message = (f"CurrentDemandRes came {took:.1f} ms after CurrentDemandReq; the EV waits at most 250 ms "
               f"(V2G_EVCC_Msg_Timeout_CurrentDemandReq)")
    out.insert(late + 1, {"t": out[late]["t"], "layer": "test", "name": "violation", "src": None, "dst": None,
                          "body": {"requirement": "V2G-DC-464", "message": message, "ref": late}})
    return out


def make_cp() -> list[dict]:
    """A CP-only test on the sim rig (virtual clock): our PEV against an EVSE DUT, A→B→5 %→C→B→A."""
    rows = [(0.0, "meta"), (0.0, "cp", "state A", None, {"state": "A", "duty": None, "volts": 12.0}),
            (0.1, "cp", "load", "pev", {"state": "B"}),
            (0.1005, "cp", "state B", None, {"state": "B", "duty": None, "volts": 9.0}),
            (0.35, "cp", "state B", None, {"state": "B", "duty": 5.0, "volts": 9.0}),
            (0.35, "state", "pwm detected", "pev", {"duty": 5.0, "digital_communication": True}),
            (2.0, "cp", "load", "pev", {"state": "C"}),
            (2.0005, "cp", "state C", None, {"state": "C", "duty": 5.0, "volts": 6.0}),
            (5.0, "cp", "load", "pev", {"state": "B"}),
            (5.0005, "cp", "state B", None, {"state": "B", "duty": 5.0, "volts": 9.0}),
            (5.08, "cp", "state B", None, {"state": "B", "duty": None, "volts": 9.0}),
            (6.0, "cp", "load", "pev", {"state": "A"}),
            (6.0005, "cp", "state A", None, {"state": "A", "duty": None, "volts": 12.0})]
    out = [{"t": 0.0, "layer": "meta", "name": "stream", "src": None, "dst": None, "clock": "virtual",
            "epoch": 1764250000.0, "tool": "ccs-hil 0.1.0"}]
    for t, layer, *rest in rows[1:]:
        name, src, body = rest
        out.append({"t": t, "layer": layer, "name": name, "src": src, "dst": None if src else "pev", "body": body})
    return out


def write(path: Path, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, separators=(",", ":")) + "\n")


def main() -> None:
    captures = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/shared/captures")
    records = build(captures)
    write(HERE / "din_dut_evse_pass.jsonl", records)
    write(HERE / "din_dut_evse_late_currentdemand.jsonl", make_late(records))
    write(HERE / "cp_dut_evse_sequence.jsonl", make_cp())
    print(f"{len(records)} records written to {HERE}")


if __name__ == "__main__":
    main()
