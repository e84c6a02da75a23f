"""A pytest worker for the fault check: many short pytest sessions in one process, one per job line on stdin, so
imports, compiled and assertion-rewritten modules and the EXI grammars are loaded once per worker instead of once
per fault (the check runs ~100 of them).

Protocol: each stdin line is `{"tag": ..., "args": [...]}`; after running `pytest.main(args)` the worker writes
`{"tag": ..., "rc": ...}` on its own line to the stdout it started with. pytest's own output goes to the file
named by `$CCS_HIL_WORKER_LOG` (default: discarded). `harness.catalogue.faultcheck` starts and feeds the workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback


def main() -> int:
    import pytest

    channel = os.dup(1)  # pytest redirects fd 1 while tests run; answers go to the original pipe
    with open(os.environ.get("CCS_HIL_WORKER_LOG") or os.devnull, "a", encoding="utf-8") as log:
        for line in sys.stdin:
            if not line.strip():
                continue
            job = json.loads(line)
            log.write(f"\n=== job {job['tag']} ===\n")
            log.flush()
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                try:
                    rc = int(pytest.main(list(job["args"])))
                except BaseException:  # noqa: BLE001 - reported to the parent, the worker goes on
                    traceback.print_exc(file=log)
                    rc = -1
            log.flush()
            os.write(channel, (json.dumps({"tag": job["tag"], "rc": rc}) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
