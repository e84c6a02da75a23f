"""HomePlug Green PHY: management frames, keys, modem management and SLAC (ISO 15118-3) in both roles, sans-IO.

Modules: `frames` (scapy layers, strict `parse_frame`/`make`), `keys` (NMK/NID), `timers` (every ISO 15118-3 SLAC
timer and counter as `SpecTimer`s/ints), `slac_evse` / `slac_pev` (the machines), `modem` (sans-IO modem
management client: discover, version, set key, reset, PIB read/write, link status), `pib` (PIB edits), `faults`
(`SlacFaultInjector`: a machine that misbehaves on purpose — the catalogue's stimulus and the sim rig's faulty DUT;
with the machines' `overrides` of timers/counters by their standard names).

Embedding SLAC in a composite role endpoint (our EVSE / PEV: SLAC first, then SDP/TCP)
---------------------------------------------------------------------------------------
`EvseSlac(EvseSlacConfig(...))` and `PevSlac(PevSlacConfig(...))` are ordinary `stack.sansio.Endpoint`s:

    slac = PevSlac(PevSlacConfig(wait_for_cp=True))
    outs = slac.handle(event, now)        # forward Start, Tick, FrameReceived, CpObserved, Command
    slac.next_deadline()                  # fold into the composite's own next_deadline() (min of the children)
    slac.state                            # "wait_cp", "wait_parm_cnf", "sounding", ..., "matched", "failed"
    slac.done / slac.matched              # finished / finished with a match
    slac.result                           # SlacResult: nid, nmk, peer_mac, run_id, attenuation_db, attempts,
                                          # reason/timer on failure, timings{start, parm_req, ..., matched}

Rules for the composite:
- Feed it `Start` first (it learns our host MAC; the EVSE immediately sends CM_SET_KEY.REQ to its modem).
- Forward every `FrameReceived` while SLAC runs; it ignores non-0x88E1 frames and unicast frames for other hosts,
  so the composite may forward all of them. Forward `Tick` when `slac.next_deadline()` is due (a Tick with nothing
  due is harmless). Forward `CpObserved` always: EVSE starts 5 % PWM on B/C/D and leaves the network on A;
  PEV starts matching on 5 % PWM and aborts on A/E/F.
- Pass its outputs through unchanged (SendFrame, SetCpOscillator, Notify). Notifies are `("state", "slac_<state>",
  {...})` per transition, `slac_ignored` / `slac_malformed` for frames it dropped (foreign RunID, bad bytes),
  and exactly one final `slac_matched` (data: nid, nmk, peer_mac, run_id, attenuation_db, duration, timings) or
  `slac_failed` (data: reason, timer = the spec timer that ran out).
- When `slac.matched` becomes true, start SDP (PEV: SendDatagram to ff02::1:15118; EVSE: BindUdp 15118). Over
  the modem emulator / real modems, IP only flows once both modems hold the NMK, which is the case then (the PEV
  has confirmed the AVLN link via VS_PL_LNK_STATUS unless `join_check=False`).
- Without a CP on the rig, set `wait_for_cp=False` (EVSE listens right after the key is set; PEV starts at Start)
  or send `Command("slac_start")`. `Command("slac_leave")` (EVSE) leaves the network with a fresh key;
  `Command("slac_link_error")` (EVSE, D-LINK_ERROR from the higher layers) leaves it through X1 (T_step_X1) → E/F (T_step_EF)
  → 5 %. A PEV whose matching failed starts again when the EVSE cycles E/F back to 5 % (its retry cycle).
"""

from stack.homeplug.slac_base import SlacResult
from stack.homeplug.slac_evse import EvseSlac, EvseSlacConfig
from stack.homeplug.slac_pev import PevSlac, PevSlacConfig

__all__ = ["EvseSlac", "EvseSlacConfig", "PevSlac", "PevSlacConfig", "SlacResult"]
