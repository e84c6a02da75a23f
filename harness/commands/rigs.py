"""List the rigs ccs-hil can find, with what each offers (or why its file is invalid)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.options import RigError
from harness.rig import available_rigs, load, rig_dirs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, default=None, help="also look in DIR/rigs (default: the current directory)")


def run(args: argparse.Namespace) -> int:
    found = available_rigs(rig_dirs(args.dir))
    if not found:
        print("no rigs found (looked in $CCS_HIL_RIGS, ./rigs and the ccs-hil checkout's rigs/)")
        return 1
    status = 0
    for name, path in sorted(found.items()):
        try:
            rig = load(str(path))
        except RigError as exc:
            print(f"{name:10} {path}\n           INVALID: {exc}")
            status = 1
            continue
        print(f"{name:10} {rig.description}\n           {path} · {rig.clock} clock · our stack: {rig.stack_role} · "
              f"DUT: {rig.dut['kind']} · {', '.join(sorted(rig.capabilities()))}")
    return status
