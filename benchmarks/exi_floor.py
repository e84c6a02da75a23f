"""How close the EXI codec is to what CPython can do at all, for the SupportedAppProtocolReq handshake.

    python benchmarks/exi_floor.py [--rounds 10]

This message (68 bytes, two AppProtocol entries) is the one where Josev's codec is fastest (about 175-270 µs
warm, against about 10 ms for a DIN message), so it decides whether "at least 100x Josev per message" holds.
The script times `stack.exi.encode`/`decode` against two hand-written functions for exactly this message that
do only what no codec can skip: unpack the dict, check each value's type and range, shift the bits together
and pad (encode); shift the fields out and build the dicts (decode). They skip everything a codec must do
besides: no dispatch on schema or document element, no check that the list is a list or the items dicts, no
unknown-key check, no second-level events, no error paths. Their time is a floor for any pure-Python
(CPython) codec of this message; dividing Josev's time by it bounds the ratio any such codec could reach.

Both sides: the lowest of --rounds medians (each round 50,000 calls in batches), interleaved so that the
machine's load hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import stack.exi as exi  # noqa: E402
from tests.exi.session_vectors import SAP_REQ  # noqa: E402

_fb = int.from_bytes
_C1 = tuple(map(chr, range(128)))
_M = tuple((1 << max(0, (x << 3) + 27)) - 1 for x in range(128))


def floor_encode(_schema: str, message: dict) -> bytes:
    name, = message
    x0, x1 = message[name]["AppProtocol"]
    z0, z1, z2, z3, z4 = x0["ProtocolNamespace"], x0["VersionNumberMajor"], x0["VersionNumberMinor"], \
        x0["SchemaID"], x0["Priority"]
    z5, z6, z7, z8, z9 = x1["ProtocolNamespace"], x1["VersionNumberMajor"], x1["VersionNumberMinor"], \
        x1["SchemaID"], x1["Priority"]
    if not (z0.__class__ is str and z0.isascii() and (lz0 := len(z0)) < 126 and z1.__class__ is int
            and -1 < z1 < 128 and z2.__class__ is int and -1 < z2 < 128 and z3.__class__ is int and 0 <= z3 <= 255
            and z4.__class__ is int and 1 <= z4 <= 20 and z5.__class__ is str and z5.isascii()
            and (lz5 := len(z5)) < 126 and z6.__class__ is int and -1 < z6 < 128 and z7.__class__ is int
            and -1 < z7 < 128 and z8.__class__ is int and 0 <= z8 <= 255 and z9.__class__ is int and 1 <= z9 <= 20):
        raise ValueError("not the common form this floor handles")
    a = (((512 << ((lz0 << 3) + 54)) | (_fb((_C1[lz0 + 2] + z0).encode(), "big") << 43) | (z1 << 32)
          | (z2 << 21) | (z3 << 10) | ((z4 - 1) << 2)) << ((lz5 << 3) + 57)) \
        | (_fb((_C1[lz5 + 2] + z5).encode(), "big") << 45) | (z6 << 34) | (z7 << 23) | (z8 << 12) \
        | ((z9 - 1) << 4) | 1
    n = a.bit_length()
    return (a << (-n & 7)).to_bytes(n + 7 >> 3, "big")


def floor_decode(_schema: str, data: bytes) -> dict:
    v = _fb(data, "big")
    r = (len(data) << 3) - 10
    if v >> r != 512:
        raise ValueError("not a supportedAppProtocolReq")
    items = []
    for head in (11, 12):  # event code bits + CH + length byte, read at once
        n = (v >> (r - head)) & ((1 << head) - 1)
        r -= (n << 3) + 27 + head
        y = (v >> r) & _M[n]
        s = (y >> 43).to_bytes(n - 2, "big")
        if y & 8250365576067 or not s.isascii():
            raise ValueError("not the common form this floor handles")
        items.append({"ProtocolNamespace": s.decode(), "VersionNumberMajor": (y >> 32) & 127,
                      "VersionNumberMinor": (y >> 21) & 127, "SchemaID": (y >> 10) & 255,
                      "Priority": ((y >> 2) & 31) + 1})
    r -= 2
    if (v >> r) & 3 != 1:
        raise ValueError("more than two AppProtocol entries")
    return {"supportedAppProtocolReq": {"AppProtocol": items}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    data = exi.encode("apphand", SAP_REQ)
    if floor_encode("apphand", SAP_REQ) != data or floor_decode("apphand", data) != exi.decode("apphand", data):
        raise SystemExit("the floor functions disagree with the codec")
    cases = {
        ("encode", "stack.exi"): (exi.encode, SAP_REQ), ("encode", "floor"): (floor_encode, SAP_REQ),
        ("decode", "stack.exi"): (exi.decode, data), ("decode", "floor"): (floor_decode, data),
    }
    n = 50_000
    samples: dict[tuple[str, str], list[float]] = {k: [] for k in cases}
    for _ in range(args.rounds):
        for key, (fn, arg) in cases.items():
            timer = timeit.Timer("f(s, x)", globals={"f": fn, "s": "apphand", "x": arg})  # no lambda frame
            samples[key].append(timer.timeit(n) / n * 1e6)
    print(f"SupportedAppProtocolReq ({len(data)} bytes), python {sys.version.split()[0]}; "
          f"lowest of {args.rounds} rounds (median in brackets), µs per call")
    print(f"{'':8} {'stack.exi':>16} {'floor':>16} {'stack.exi/floor':>16}")
    for op in ("encode", "decode"):
        ours, floor = samples[(op, "stack.exi")], samples[(op, "floor")]
        print(f"{op:8} {min(ours):8.2f} ({statistics.median(ours):5.2f}) {min(floor):8.2f} "
              f"({statistics.median(floor):5.2f}) {min(ours) / min(floor):15.2f}x")
    print("Josev's figure for this message comes from exi_bench.py (iso2 row: the JVM is warm by then); "
          "Josev µs / floor µs bounds the ratio a pure-Python codec can reach")
    return 0


if __name__ == "__main__":
    sys.exit(main())
