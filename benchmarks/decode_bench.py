"""Capture decoding speed: frames/s and EXI messages/s over the shared captures, and the issue's target.

    .venv/bin/python benchmarks/decode_bench.py [--runs 5] [--captures DIR]

Target (issue 8): the three shared captures together decoded in under 2 s on a 2-core machine. Two measurements:
- in process, per capture: the best of `--runs` decodes (`CaptureDecoder`: read, reassemble, describe, EXI) after
  one warm-up decode (grammar modules imported, caches filled) — the decoder's own speed;
- cold, as a user runs it, start-up (interpreter, imports, first use of every grammar) included: one
  `ccs-hil decode --json` process per capture, and one process decoding all of them (`ccs-hil decode A B C`) —
  the latter is what the 2 s target ("the three captures together") is checked against.
Also the same captures through scapy's `PcapReader` alone (dissecting every packet), the approach the decoder
replaced, for comparison.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.capture.decode import CaptureDecoder  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[1] / "tests" / "data" / "captures"
TARGET_S = 2.0


def decode_once(path: Path) -> tuple[float, int, int, int, int]:
    start = time.perf_counter()
    decoder = CaptureDecoder(path)
    records = list(decoder)
    seconds = time.perf_counter() - start
    exi = sum(r.layer == "exi" and r.error is None for r in records)
    errors = sum(r.error is not None for r in records)
    return seconds, decoder.stats.frames, len(records), exi, errors


def scapy_only(path: Path) -> float:
    from scapy.utils import PcapReader

    start = time.perf_counter()
    with PcapReader(str(path)) as reader:
        for _ in reader:
            pass
    return time.perf_counter() - start


def cold(*paths: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness.cli", "decode", *map(str, paths), "--json", "-q"], check=True,
                   stdout=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[1])
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--captures", type=Path, default=DEFAULT)
    args = parser.parse_args()
    captures = sorted(args.captures.glob("*.pcap*"))
    captures = [c for c in captures if not c.name.endswith(".txt")]
    if not captures:
        print(f"no captures in {args.captures}", file=sys.stderr)
        return 2
    print(f"decode benchmark: {len(captures)} captures, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"best of {args.runs} in process")
    header = (f"{'capture':58} {'frames':>7} {'records':>8} {'EXI':>5} {'err':>4} {'best ms':>8} {'frames/s':>10} "
              f"{'EXI/s':>8} {'scapy ms':>9} {'cold ms':>8}")
    print(header)
    print("-" * len(header))
    totals = {"frames": 0, "records": 0, "exi": 0, "best": 0.0, "scapy": 0.0, "cold": 0.0}
    for path in captures:
        decode_once(path)  # warm-up
        runs = [decode_once(path) for _ in range(args.runs)]
        best = min(r[0] for r in runs)
        _, frames, records, exi, errors = runs[0]
        scapy_s = min(scapy_only(path) for _ in range(max(1, args.runs // 2)))
        cold_s = cold(path)
        totals["frames"] += frames
        totals["records"] += records
        totals["exi"] += exi
        totals["best"] += best
        totals["scapy"] += scapy_s
        totals["cold"] += cold_s
        print(f"{path.name[:58]:58} {frames:>7} {records:>8} {exi:>5} {errors:>4} {best * 1000:>8.1f} "
              f"{frames / best:>10.0f} {exi / best if exi else 0:>8.0f} {scapy_s * 1000:>9.1f} {cold_s * 1000:>8.0f}")
    print("-" * len(header))
    best = totals["best"]
    print(f"{'total':58} {totals['frames']:>7} {totals['records']:>8} {totals['exi']:>5} {'':>4} {best * 1000:>8.1f} "
          f"{totals['frames'] / best:>10.0f} {totals['exi'] / best:>8.0f} {totals['scapy'] * 1000:>9.1f} "
          f"{totals['cold'] * 1000:>8.0f}")
    together = min(cold(*captures) for _ in range(3))
    verdict = "met" if together < TARGET_S else "MISSED"
    print(f"\ntarget: the {len(captures)} captures together decoded in under {TARGET_S:g} s — {verdict}: "
          f"{together:.2f} s cold in one `ccs-hil decode` process (best of 3, start-up included); "
          f"{totals['cold']:.2f} s as {len(captures)} separate processes; {best:.3f} s warm in process. "
          f"scapy's reader alone needs {totals['scapy']:.2f} s just to read them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
