"""Runs INSIDE Josev's virtualenv (iso15118 + Java): batch EXI encode/decode through its EXIficient codec.

Input (stdin): {"requests": [{"op": "encode", "ns": <namespace>, "msg": <Josev JSON object>},
                             {"op": "decode", "ns": ..., "hex": <EXI hex>},
                             {"op": "bench", "ns": ..., "msg": ..., "n": <repetitions>}, ...]}
Output (stdout): {"version": ..., "results": [{"ok": true, "hex": ...} | {"ok": true, "msg": ...} |
                  {"ok": true, "encode_us": [...], "decode_us": [...]} | {"ok": false, "error": ...}]}

One JVM serves the whole batch: starting it costs seconds. Uses only the codec object Josev itself uses
(iso15118.shared.exificient_exi_codec.ExificientEXICodec: JSON string + namespace <-> bytes via py4j), so the
timings are what Josev pays per message.
"""

import contextlib
import json
import logging
import sys
import time


def main() -> int:
    logging.disable(logging.CRITICAL)
    from iso15118.shared.exificient_exi_codec import ExificientEXICodec

    req = json.load(sys.stdin)
    codec = ExificientEXICodec()
    out = []
    for r in req["requests"]:
        try:
            if r["op"] == "encode":
                out.append({"ok": True, "hex": bytes(codec.encode(json.dumps(r["msg"]), r["ns"])).hex()})
            elif r["op"] == "decode":
                out.append({"ok": True, "msg": json.loads(codec.decode(bytes.fromhex(r["hex"]), r["ns"]))})
            elif r["op"] == "bench":
                text = json.dumps(r["msg"])
                enc, dec = [], []
                data = b""
                for _ in range(r.get("n", 50)):
                    t0 = time.perf_counter()
                    data = bytes(codec.encode(text, r["ns"]))
                    t1 = time.perf_counter()
                    codec.decode(data, r["ns"])
                    t2 = time.perf_counter()
                    enc.append((t1 - t0) * 1e6)
                    dec.append((t2 - t1) * 1e6)
                out.append({"ok": True, "hex": data.hex(), "encode_us": enc, "decode_us": dec})
            else:
                out.append({"ok": False, "error": f"unknown op {r['op']!r}"})
        except Exception as exc:  # report per request, keep going
            out.append({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    json.dump({"version": codec.get_version(), "results": out}, sys.stdout)
    sys.stdout.flush()
    with contextlib.suppress(Exception):
        codec.gateway.shutdown()  # do not leave a JVM behind
    return 0


if __name__ == "__main__":
    sys.exit(main())
