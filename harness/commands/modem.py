"""Manage HomePlug GP adaptors: list, info, set-key, reset, pib-read, pib-write (QCA7420/7000 vendor MMEs).

`pib-write --profile evse|pev` reads the adaptor's parameter block, saves it as a backup file, applies the changes
the pyPLC README gives for that role (user HFID, CCo selection, GreenPHY SLAC role, attenuation limits), shows the
difference, and — unless `--dry-run` — writes it back (module write session, commit) and resets the adaptor.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from harness.commands._plc import add_link_arguments, build, fail, l2_errors, stream_json
from stack.homeplug import frames as f
from stack.homeplug import modem as m
from stack.homeplug import pib as pibmod
from stack.timers import SpecTimer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, help_text in (("list", "find adaptors (VS_SW_VER broadcast): MAC, chip, firmware"),
                              ("info", "one adaptor: firmware, link status, PIB summary"),
                              ("set-key", "set the network key (CM_SET_KEY.REQ)"),
                              ("reset", "reset the adaptor (VS_RS_DEV)"),
                              ("pib-read", "save the parameter block to a file"),
                              ("pib-write", "apply a role profile (or a file) to the parameter block")):
        p = sub.add_parser(action, help=help_text)
        add_link_arguments(p)
        p.add_argument("--modem", default=f.QUALCOMM_LOCAL_MAC,
                       help="adaptor MAC (default: the local adaptor, 00:b0:52:00:00:01)")
        if action == "set-key":
            p.add_argument("--nmk", help="16-byte NMK as hex (default: a fresh random key)")
        if action == "pib-read":
            p.add_argument("--out", required=True, help="file to write the PIB to")
        if action == "pib-write":
            p.add_argument("--profile", choices=sorted(pibmod.PROFILES), help="role changes to apply")
            p.add_argument("--from", dest="source", help="write this PIB file instead of a profile")
            p.add_argument("--backup", help="backup file (default: pib-backup-<mac>-<time>.pib)")
            p.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")


@l2_errors
def run(args: argparse.Namespace) -> int:
    if args.action == "pib-write" and not (args.profile or args.source):
        return fail("pib-write needs --profile evse|pev or --from FILE")
    ops = {
        "list": lambda: [m.discover()],
        "info": lambda: [m.version(args.modem), m.link_status(args.modem), m.pib_read(args.modem)],
        "set-key": lambda: [m.set_key(bytes.fromhex(args.nmk) if args.nmk else _random_nmk(), args.modem)],
        "reset": lambda: [m.reset(args.modem)],
        "pib-read": lambda: [m.pib_read(args.modem)],
        "pib-write": lambda: [m.pib_read(args.modem)],
    }[args.action]()
    client = m.ModemClient(ops)
    results = _run(args, client)
    if results is None:
        return 1
    if args.action == "pib-write":
        return _pib_write(args, results[0]["pib"])
    if not args.json:
        _print(args, results)
    return 0 if all(r.get("ok") for r in results) else 1


def _random_nmk() -> bytes:
    import os

    return os.urandom(16)


def _run(args: argparse.Namespace, client: m.ModemClient):
    runner, node, _ = build(args, "host", client)
    if args.json:
        stream_json(runner)
    limit = SpecTimer("ccs-hil modem", m.TT_module_write.seconds * 3 if args.action == "pib-write" else 30.0)
    runner.run(lambda: client.done, limit)
    for result in client.results:
        if not result.get("ok"):
            print(f"ccs-hil modem {args.action}: {result.get('error', result)}")
            return None
    if not client.done:
        print(f"ccs-hil modem {args.action}: no answer within {limit}")
        return None
    return client.results


def _print(args: argparse.Namespace, results: list[dict]) -> None:
    for result in results:
        op = result["op"]
        if op == "discover":
            if not result["modems"]:
                print("no adaptor answered")
            print(f"{'MAC':17}  {'chip':8}  firmware")
            for modem in result["modems"]:
                print(f"{modem['mac']:17}  {modem['device']:8}  {modem['version']}")
        elif op == "version":
            print(f"adaptor     {result['mac']}  {result['device']}  {result['version']}")
        elif op == "link_status":
            print(f"link        {'AVLN up' if result['link'] else 'no AVLN peer'}")
        elif op == "pib_read" and args.action == "info":
            for key, value in pibmod.summary(result["pib"]).items():
                print(f"pib.{key:13} {value}")
        elif op == "pib_read":
            Path(args.out).write_bytes(result["pib"])
            print(f"PIB of {result['modem']}: {len(result['pib'])} bytes → {args.out}")
        elif op == "set_key":
            print(f"set key on {result['modem']}: Result 0x{result['result']:02x} "
                  f"({'applied' if result['ok'] else 'refused'})  NID {result['nid']}  NMK {result['nmk']}")
        elif op == "reset":
            print(f"reset {result['modem']}: {'ok' if result['ok'] else 'refused'}")


def _pib_write(args: argparse.Namespace, current: bytes) -> int:
    mac = pibmod.summary(current)["mac"]
    backup = Path(args.backup or f"pib-backup-{mac.replace(':', '')}-{time.strftime('%Y%m%d-%H%M%S')}.pib")
    backup.write_bytes(current)
    print(f"backup of the current PIB ({len(current)} bytes) → {backup}")
    if args.source:
        new = Path(args.source).read_bytes()
        pibmod.validate(new, args.source)
        edits = [pibmod.Edit(0, b"", f"whole image from {args.source}")]
    else:
        edits = pibmod.PROFILES[args.profile]
        new = pibmod.apply(current, edits)
    for edit in edits:
        print(f"  {edit.what}")
    changes = pibmod.diff(current, new)
    for offset, old, now in changes:
        print(f"  0x{offset:04x}: {old.hex()} → {now.hex()}")
    if not changes:
        print("nothing to change")
        return 0
    if args.dry_run:
        print("dry run: nothing written")
        return 0
    client = m.ModemClient([m.pib_write(new, args.modem), m.pib_read(args.modem)])
    results = _run(args, client)
    if results is None:
        return 1
    written = results[-1]["pib"]
    if written != new:
        print("read-back differs from what was written")
        return 1
    print(f"written {len(new)} bytes, adaptor reset, read-back verified "
          f"(HFID {pibmod.summary(written)['user_hfid']!r})")
    return 0
