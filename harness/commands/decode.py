"""Decode a pcap/pcapng capture: HomePlug MMEs, SDP, V2GTP and EXI, one line per message (or records with --json)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

from harness.capture import CaptureError
from harness.capture.decode import CaptureDecoder
from harness.describe.summary import summarize


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("capture", help="pcap or pcapng file")
    parser.add_argument("--json", action="store_true", help="print JSON Lines in the ccs-hil record format")


def _text(record) -> str:
    stamp = datetime.fromtimestamp(record.t, tz=timezone.utc).strftime("%H:%M:%S.%f")[:-3]
    route = f"{record.src or '?'} → {record.dst or '?'}"
    parts = [stamp, f"{record.layer:8}", f"{record.name:32}", route]
    if record.error:
        parts.append(f"ERROR {record.error}")
    else:
        summary = summarize(record.to_dict())
        if summary:
            parts.append(summary)
    return "  ".join(parts)


def run(args: argparse.Namespace) -> int:
    decoder = CaptureDecoder(args.capture)
    out = sys.stdout
    counts = {"records": 0, "errors": 0}
    try:
        if args.json:
            out.write(decoder.meta().to_json() + "\n")
        for record in decoder:
            counts["records"] += 1
            counts["errors"] += record.error is not None
            out.write((record.to_json() if args.json else _text(record)) + "\n")
    except CaptureError as exc:
        print(f"ccs-hil decode: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    stats = decoder.reader.stats
    other = ", ".join(f"{n} {kind}" for kind, n in stats.other.most_common()) or "none"
    print(f"# {stats.frames} frames: {counts['records']} records, {counts['errors']} with errors, "
          f"{stats.retransmissions} TCP retransmissions; not CCS: {other}", file=sys.stderr)
    return 0
