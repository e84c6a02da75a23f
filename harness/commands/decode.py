"""Decode a pcap/pcapng capture: HomePlug MMEs, SDP, V2GTP and EXI, one line per message (or records with --json).

Exit codes: 0 when the file could be read (undecodable frames become error records, a damaged file ends with
one); 2 when it (or one of several) cannot be read at all (missing, unreadable, not a capture), with one line on
stderr for each such file.
"""

from __future__ import annotations

import argparse
import sys

from harness.capture import CaptureError
from harness.capture.decode import CaptureDecoder
from harness.capture.text import TextWriter


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("capture", nargs="+", help="pcap or pcapng file(s); each gives its own stream")
    parser.add_argument("--json", action="store_true",
                        help="print JSON Lines in the ccs-hil record format (capture clock)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary line on stderr")


def stats_line(decoder: CaptureDecoder, records: int, errors: int) -> str:
    stats = decoder.stats
    other = ", ".join(f"{n} {kind}" for kind, n in stats.other.most_common()) or "none"
    return (f"# {stats.frames} frames: {records} records, {errors} with errors, {stats.retransmissions} TCP "
            f"retransmissions; not CCS: {other}")


def run(args: argparse.Namespace) -> int:
    status = 0
    for path in args.capture:
        try:
            status = max(status, _one(path, args, several=len(args.capture) > 1))
        except BrokenPipeError:  # `ccs-hil decode x | head`
            sys.stderr.close()
            return status
    return status


def _one(path: str, args: argparse.Namespace, several: bool) -> int:
    try:
        decoder = CaptureDecoder(path)
    except CaptureError as exc:
        print(f"ccs-hil decode: {exc}", file=sys.stderr)
        return 2
    out = sys.stdout
    records = errors = 0
    text = None if args.json else TextWriter(out)
    if several and text is not None:
        out.write(f"# {path}\n")
    if args.json:
        out.write(decoder.meta().to_json() + "\n")
    for record in decoder:
        records += 1
        errors += record.error is not None
        if text is None:
            out.write(record.to_json() + "\n")
        else:
            text.write(record)
    if text is not None:
        text.flush()
    out.flush()
    if not args.quiet:
        print(stats_line(decoder, records, errors) + (f" ({path})" if several else ""), file=sys.stderr)
    return 0
