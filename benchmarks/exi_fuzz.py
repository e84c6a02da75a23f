"""Mutation fuzzer for the EXI decoder: decode must raise nothing but ExiDecodeError, whatever the bytes.

    python benchmarks/exi_fuzz.py [--count 1000000] [--seed 1] [--jobs 2] [--schemas din iso2 ...]

Per schema it mutates a corpus of valid streams (capture payloads, the session vectors, grammar-walk random
messages) with bit flips, byte overwrites/inserts/deletes, truncation, extension, splicing and pure random
data, `--count` inputs per schema, seeded and reproducible (input k of chunk c is derived from
"seed:schema:c"). Every stream that decodes is re-encoded: encode may reject it (decode is lenient about
facets that do not affect the encoding) but must then raise ExiEncodeError, and decode(encode(m)) must give m
back. Any other exception, a broken round trip, or a decode slower than --slow seconds is a finding: the input
is saved under --out with a .txt explaining it. Exit code 1 if there are findings.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import stack.exi as exi  # noqa: E402

CHUNK = 20_000


def corpus(schema: str, seed: int) -> list[bytes]:
    """Valid streams to mutate (deterministic for a seed)."""
    from tests.exi.capture_payloads import capture_files, exi_messages
    from tests.exi.session_vectors import SESSIONS, schema_of
    from tests.exi.strategies import random_message

    out: list[bytes] = []
    if schema in ("din", "apphand"):
        for f in capture_files():
            for m in exi_messages(f):
                sap = m.payload[:2] in (b"\x80\x00", b"\x80\x40")
                if (schema == "apphand") == sap:
                    out.append(m.payload)
    for session, make in SESSIONS.items():
        for _d, msg in make():
            if schema_of(session, msg) == schema:
                out.append(exi.encode(schema, msg))
    rnd = random.Random(f"{seed}:corpus:{schema}")
    for name in exi.message_names(schema):
        for _ in range(8):
            out.append(exi.encode(schema, random_message(schema, name, rnd)))
    return sorted(set(out))


def mutate(rnd: random.Random, seeds: list[bytes]) -> bytes:
    data = bytearray(rnd.choice(seeds))
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        op = rnd.randrange(10)
        n = len(data)
        if op == 0 and n:  # flip bits
            for _ in range(rnd.randint(1, 4)):
                pos = rnd.randrange(n * 8)
                data[pos >> 3] ^= 0x80 >> (pos & 7)
        elif op == 1 and n:  # overwrite bytes
            for _ in range(rnd.randint(1, 3)):
                data[rnd.randrange(n)] = rnd.getrandbits(8)
        elif op == 2 and n:  # interesting byte values
            data[rnd.randrange(n)] = rnd.choice((0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE))
        elif op == 3:  # truncate
            del data[rnd.randrange(n + 1):]
        elif op == 4:  # extend
            data += rnd.randbytes(rnd.randint(1, 16))
        elif op == 5:  # insert
            pos = rnd.randrange(n + 1)
            data[pos:pos] = rnd.randbytes(rnd.randint(1, 8))
        elif op == 6 and n:  # delete a range
            pos = rnd.randrange(n)
            del data[pos:pos + rnd.randint(1, 8)]
        elif op == 7:  # splice with another seed
            other = rnd.choice(seeds)
            data = data[: rnd.randrange(n + 1)] + other[rnd.randrange(len(other) + 1):]
        elif op == 8 and n:  # duplicate a range
            a = rnd.randrange(n)
            b = min(n, a + rnd.randint(1, 16))
            data[b:b] = data[a:b]
        else:  # random stream with a valid header
            data = bytearray(b"\x80" + rnd.randbytes(rnd.randint(0, 80)))
    return bytes(data)


def run_chunk(task: tuple[str, int, int, int, str, float]) -> dict:
    schema, chunk, count, seed, out_dir, slow = task
    seeds = corpus(schema, seed)
    rnd = random.Random(f"{seed}:{schema}:{chunk}")
    stats = {"schema": schema, "inputs": 0, "decode_error": 0, "decoded": 0, "reencoded_same": 0,
             "reencoded_canonical": 0, "encode_rejected": 0, "findings": [], "max_s": 0.0}
    for k in range(count):
        data = mutate(rnd, seeds)
        stats["inputs"] += 1
        t0 = time.perf_counter()
        try:
            msg = exi.decode(schema, data)
        except exi.ExiDecodeError:
            stats["decode_error"] += 1
            msg = None
        except BaseException as exc:  # noqa: BLE001 - this is what we hunt for
            if isinstance(exc, KeyboardInterrupt):
                raise
            stats["findings"].append(_save(out_dir, schema, chunk, k, data, "decode raised " + type(exc).__name__,
                                           traceback.format_exc()))
            continue
        dt = time.perf_counter() - t0
        stats["max_s"] = max(stats["max_s"], dt)
        if dt > slow:
            stats["findings"].append(_save(out_dir, schema, chunk, k, data, f"decode took {dt:.3f} s", ""))
        if msg is None:
            continue
        stats["decoded"] += 1
        try:
            again = exi.encode(schema, msg)
        except exi.ExiEncodeError:
            stats["encode_rejected"] += 1
            continue
        except Exception:  # noqa: BLE001
            stats["findings"].append(_save(out_dir, schema, chunk, k, data, "re-encode raised a non-ExiEncodeError",
                                           traceback.format_exc()))
            continue
        if again == data:
            stats["reencoded_same"] += 1
            continue
        try:
            ok = exi.decode(schema, again) == msg
        except Exception:  # noqa: BLE001
            ok = False
        if ok:
            stats["reencoded_canonical"] += 1  # e.g. non-zero padding bits in the mutated input
        else:
            stats["findings"].append(_save(out_dir, schema, chunk, k, data, "decode(encode(m)) != m", repr(msg)[:2000]))
    return stats


def _save(out_dir: str, schema: str, chunk: int, k: int, data: bytes, what: str, detail: str) -> str:
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, f"{schema}-{chunk}-{k}")
    Path(base + ".bin").write_bytes(data)
    Path(base + ".txt").write_text(f"{what}\nschema: {schema}\nhex: {data.hex()}\n\n{detail}\n")
    return f"{what}: {base}.bin"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1_000_000, help="inputs per schema")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--schemas", nargs="*", default=list(exi.SCHEMAS))
    ap.add_argument("--out", default=str(REPO / "out" / "exi_fuzz"))
    ap.add_argument("--slow", type=float, default=1.0, help="seconds after which one decode counts as a finding")
    args = ap.parse_args()

    tasks = []
    for schema in args.schemas:
        left, chunk = args.count, 0
        while left > 0:
            n = min(CHUNK, left)
            tasks.append((schema, chunk, n, args.seed, args.out, args.slow))
            left -= n
            chunk += 1
    totals: dict[str, dict] = {}
    t0 = time.perf_counter()
    with multiprocessing.Pool(args.jobs) as pool:
        for st in pool.imap_unordered(run_chunk, tasks):
            tot = totals.setdefault(st["schema"], {k: (0 if not isinstance(v, list) else []) for k, v in st.items()
                                                   if k != "schema"})
            for k, v in st.items():
                if k == "schema":
                    continue
                tot[k] = max(tot[k], v) if k == "max_s" else tot[k] + v
            done = sum(t["inputs"] for t in totals.values())
            print(f"\r{done:,} / {len(args.schemas) * args.count:,} inputs, {time.perf_counter() - t0:.0f} s",
                  end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    print(f"EXI decoder fuzz: seed {args.seed}, {args.count:,} mutated inputs per schema, {args.jobs} process(es), "
          f"{time.perf_counter() - t0:.0f} s")
    head = (f"{'schema':11} {'inputs':>10} {'ExiDecodeError':>15} {'decoded':>9} {'re-enc same':>12} "
            f"{'canonical':>10} {'enc rejects':>12} {'max ms':>8} {'findings':>9}")
    print(head)
    print("-" * len(head))
    findings = []
    for schema in args.schemas:
        t = totals[schema]
        findings += t["findings"]
        print(f"{schema:11} {t['inputs']:10,} {t['decode_error']:15,} {t['decoded']:9,} {t['reencoded_same']:12,} "
              f"{t['reencoded_canonical']:10,} {t['encode_rejected']:12,} {t['max_s'] * 1e3:8.1f} {len(t['findings']):9}")
    for f in findings[:50]:
        print("FINDING", f)
    print(f"{len(findings)} finding(s); exceptions other than ExiDecodeError: "
          f"{sum(1 for f in findings if 'raised' in f)}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
