"""`ccs-hil` command line. Each sub-command lives in its own module under `harness/commands/` and registers here."""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> module under harness.commands providing `add_arguments(parser)` and `run(args) -> int`
COMMANDS: dict[str, str] = {
    "analyse": "analyse",
    "decode": "decode",
    "evse": "evse",
    "modem": "modem",
    "pev": "pev",
    "report": "report",
    "rigs": "rigs",
    "slac": "slac",
    "sniff": "sniff",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or (`only`) one with just that command: importing every command module costs a few
    hundred ms of start-up that `ccs-hil decode` should not pay."""
    from harness import __version__

    parser = argparse.ArgumentParser(prog="ccs-hil", description="CCS charging-communication test harness")
    parser.add_argument("--version", action="version", version=f"ccs-hil {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        if only is not None and name != only:
            continue
        module = importlib.import_module(f"harness.commands.{module_name}")
        command = sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        module.add_arguments(command)
        command.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    parser = build_parser(args_list[0] if args_list and args_list[0] in COMMANDS else None)
    args = parser.parse_args(args_list)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt:
        print("ccs-hil: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
