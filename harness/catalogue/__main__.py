"""`python -m harness.catalogue check-faults | requirements | count`: the catalogue's maintenance tools."""

from __future__ import annotations

import sys

USAGE = """usage: python -m harness.catalogue COMMAND [ARGS]

  check-faults [PATH ...] [-j N] [--json FILE]   every test passes clean and fails with each declared fault
  requirements [--check]                         regenerate (or check) testcases/REQUIREMENTS.md
  count [PATH ...]                               tests per area and DUT role, requirement IDs cited
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "check-faults":
        from harness.catalogue.faultcheck import main as run
    elif command == "requirements":
        from harness.catalogue.requirements import main as run
    elif command == "count":
        from harness.catalogue.summary import main as run
    else:
        print(f"unknown command {command!r}\n{USAGE}", file=sys.stderr)
        return 2
    return run(rest)


if __name__ == "__main__":
    sys.exit(main())
