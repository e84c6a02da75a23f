"""Sniff a PLC adaptor's interface live: decode HomePlug, SDP, V2GTP and EXI as frames arrive, optionally to pcapng.

    sudo ccs-hil sniff --iface eth1 [--write session.pcapng] [--json] [--count N] [--duration S] [--sniffer]

Every frame of every ethertype is captured (raw socket, promiscuous); CCS frames print as `ccs-hil decode` prints
them (text lines, or `--json` records on the `capture` clock), the rest is counted. `--write` keeps every frame in
a pcapng file whose per-frame comments name what was decoded from it. `--sniffer` switches the adaptor's Qualcomm
listen mode on (VS_SNIFFER.REQ to the local modem, confirmed by VS_SNIFFER.CNF within TT_modem_response): the
modem then reports every frame it hears on the powerline — also between other stations — as VS_SNIFFER.IND (the
frame control: delimiter type, SNID, source/destination TEI, length), and it is switched off again on the way out.
Ends after `--count` frames, after `--duration` seconds, or on Ctrl-C / SIGTERM, always with the file complete
and the modem back out of listen mode. Exit codes: 0 done (also after Ctrl-C), 2 interface/privilege problem.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from harness.capture.decode import RecordMaker
from harness.capture.live import LiveCapture
from harness.capture.reader import Classifier
from harness.capture.text import TextWriter
from harness.describe.summary import summarize
from harness.records import Record, meta_record
from harness.runtime.raw_l2 import L2PortError
from stack.homeplug import frames as f
from stack.homeplug.timers import TT_modem_response

_POLL = 0.2  # seconds per read: how quickly --duration and signals are noticed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--iface", required=True, help="network interface of the PLC adaptor")
    parser.add_argument("--write", metavar="FILE.pcapng", help="also write every frame to this pcapng file")
    parser.add_argument("--json", action="store_true", help="print JSON Lines in the ccs-hil record format")
    parser.add_argument("--count", type=int, metavar="N", help="stop after N frames")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument("--sniffer", action="store_true",
                        help="switch the adaptor's Qualcomm listen mode on (VS_SNIFFER) while sniffing")
    parser.add_argument("--no-promisc", action="store_true", help="do not put the interface in promiscuous mode")


class _Stop(Exception):
    """SIGTERM: end like Ctrl-C."""


def _comment(record: Record) -> str:
    detail = record.error or summarize(record.to_dict())
    text = f"{record.layer} {record.name}" + (f" [{record.schema}]" if record.schema else "") + \
        (f" {detail}" if detail else "")
    return text if len(text) <= 240 else text[:239] + "…"


class Sniffer:
    """Frames in, records and pcapng frames out; the same classifier and describers as `ccs-hil decode`."""

    def __init__(self, capture: LiveCapture, emit: Callable[[Record], None], pcap: Any | None) -> None:
        self.capture, self.emit, self.pcap = capture, emit, pcap
        self.classifier = Classifier()
        self.maker = RecordMaker()
        self.frames = self.records = self.errors = 0

    def handle(self, t: float, frame: bytes) -> list[Record]:
        self.frames += 1
        records: list[Record] = []
        for event in self.classifier.feed(t, frame):
            records += self.maker.feed(event)
        for record in records:
            self._out(record)
        if self.pcap is not None:
            self.pcap.write(t, frame, [_comment(r) for r in records])
        return records

    def _out(self, record: Record) -> None:
        self.records += 1
        self.errors += record.error is not None
        self.emit(record)

    def finish(self) -> None:
        last = self.classifier.last_t
        records: list[Record] = []
        for event in self.classifier.flush():
            records += self.maker.feed(event)
        for record in records + self.maker.finish():
            record.t = record.t or last
            self._out(record)

    def listen_mode(self, on: bool, deadline_s: float) -> bool:
        """VS_SNIFFER.REQ to the local modem; True when its VS_SNIFFER.CNF says success within the bound."""
        request = f.make(f.QUALCOMM_LOCAL_MAC, self.capture.mac, f.VsSnifferReq(SnifferControl=1 if on else 0))
        self.capture.send(request)
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            for t, frame in self.capture.read(min(_POLL, max(0.0, end - time.monotonic()))):
                for record in self.handle(t, frame):
                    if record.mmtype == f.VS_SNIFFER | f.CNF and isinstance(record.body, dict) and \
                            (record.dst or "").lower() == self.capture.mac:
                        return record.body.get("Status") == 0
        return False


def run(args: argparse.Namespace) -> int:
    out = sys.stdout
    try:
        capture = LiveCapture(args.iface, promiscuous=not args.no_promisc)
    except L2PortError as exc:
        print(f"ccs-hil sniff: {exc}", file=sys.stderr)
        return 2
    text = None if args.json else TextWriter(out, hold=0)

    def emit(record: Record) -> None:
        if text is None:
            out.write(record.to_json() + "\n")
        else:
            text.write(record)
        out.flush()

    handle: IO[bytes] | None = None
    pcap = None
    if args.write:
        from reports.pcapng import PcapNgWriter

        try:
            handle = open(Path(args.write), "wb")  # noqa: SIM115 - closed in the finally below
        except OSError as exc:
            capture.close()
            print(f"ccs-hil sniff: cannot write {args.write}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        from harness import __version__

        pcap = PcapNgWriter(handle, comment=f"ccs-hil sniff on {args.iface}; each decoded frame's comment names "
                                            "what ccs-hil decoded from it", application=f"ccs-hil {__version__}",
                            if_name=args.iface)
    if args.json:
        emit(meta_record("capture", 0.0, source=f"live:{args.iface}"))
    sniffer = Sniffer(capture, emit, pcap)
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    listening = False
    reason = "done"
    try:
        if args.sniffer:
            listening = sniffer.listen_mode(True, TT_modem_response.seconds)
            if not listening:
                print(f"ccs-hil sniff: no VS_SNIFFER.CNF from the local modem on {args.iface} within "
                      f"{TT_modem_response}; capturing without listen mode", file=sys.stderr)
        print(f"ccs-hil sniff: listening on {args.iface}{' (modem listen mode on)' if listening else ''}",
              file=sys.stderr, flush=True)
        end = time.monotonic() + args.duration if args.duration is not None else None
        while args.count is None or sniffer.frames < args.count:
            remaining = None if end is None else end - time.monotonic()
            if remaining is not None and remaining <= 0:
                reason = f"{args.duration:g} s elapsed"
                break
            for t, frame in capture.read(_POLL if remaining is None else min(_POLL, remaining)):
                sniffer.handle(t, frame)
                if args.count is not None and sniffer.frames >= args.count:
                    reason = f"{args.count} frames"
                    break
            if handle is not None:
                handle.flush()
    except (KeyboardInterrupt, _Stop) as exc:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated"
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        try:
            if listening and not sniffer.listen_mode(False, TT_modem_response.seconds):
                print(f"ccs-hil sniff: the modem did not confirm leaving listen mode on {args.iface}",
                      file=sys.stderr)
            sniffer.finish()
            if text is not None:
                text.flush()
        finally:
            if handle is not None:
                handle.close()
            capture.close()
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, signal.default_int_handler)
    stats = sniffer.classifier.stats
    other = ", ".join(f"{n} {kind}" for kind, n in stats.other.most_common()) or "none"
    written = f", written to {args.write}" if args.write else ""
    print(f"# {reason}: {sniffer.frames} frames, {sniffer.records} records, {sniffer.errors} with errors{written}; "
          f"not CCS: {other}", file=sys.stderr)
    return 0


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop()
