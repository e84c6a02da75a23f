"""Run pyslac's EVSE session on one interface and report on stdout as JSON lines (runs in pyslac's own venv).

pyslac (0.8.3) ships no CLI that takes an interface (its examples read a JSON file next to them), so this drives
its public classes the way its `examples/single_slac_session.py` does: `SlacEvseSession(evse_id, iface, Config)`,
`evse_set_key()` (CM_SET_KEY.REQ to the modem, then pyslac's SLAC_SETTLE_TIME of 10 s), then
`SlacSessionController.process_cp_state(session, "B")`, which runs its matching task. Settings come from the
environment as pyslac reads them (`Config.load_envs`: SLAC_INIT_TIMEOUT, ATTEN_RESULTS_TIMEOUT, LOG_LEVEL).

Lines: {"event": "ready"} once the key is set (the test then plays the car), {"event": "matched", nid, nmk,
pev_mac, run_id} or {"event": "failed", "why": ...}.
"""

import asyncio
import json
import sys
import time


def emit(**obj):
    print(json.dumps(obj), flush=True)


async def main(iface: str, limit: float) -> int:
    from pyslac.enums import STATE_MATCHED
    from pyslac.environment import Config
    from pyslac.session import SlacEvseSession, SlacSessionController

    config = Config()
    config.load_envs()
    controller = SlacSessionController()
    session = SlacEvseSession("DE*CCS*E0001", iface, config)
    await session.evse_set_key()
    emit(event="ready", nid=session.nid.hex(), nmk=session.nmk.hex())
    await controller.process_cp_state(session, "B")
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if session.state == STATE_MATCHED:
            emit(event="matched", nid=session.nid.hex(), nmk=session.nmk.hex(), pev_mac=session.pev_mac.hex(),
                 run_id=session.run_id.hex())
            return 0
        task = session.matching_process_task
        if task is not None and task.done():
            emit(event="failed", why=repr(task.exception()) if not task.cancelled() else "cancelled")
            return 1
        await asyncio.sleep(0.02)
    emit(event="failed", why=f"no match within {limit} s")
    return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 30.0)))
