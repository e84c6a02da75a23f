"""`python -m stack.exi.generate`: regenerate the committed grammar modules from the vendored XSDs.

Options: `--check` exits non-zero when the committed modules differ from what the XSDs produce (for CI);
`--out DIR` writes elsewhere.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import time
from pathlib import Path

from .codegen import ModuleGenerator
from .grammar import GrammarBuilder
from .xsd import SchemaSet

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
SCHEMA_DIR = os.path.join(PKG, "schemas")
OUT_DIR = os.path.join(PKG, "_grammars")
XMLDSIG_NS = "http://www.w3.org/2000/09/xmldsig#"

# schema name -> root XSD (relative to schemas/). One EXI grammar per root: its global elements are those of
# the root document and everything it imports (ISO 15118-20: one grammar per service namespace, as Josev and
# cbexigen do).
SCHEMAS: dict[str, str] = {
    "apphand": "V2G_CI_AppProtocol.xsd",
    "din": "din_spec/V2G_CI_MsgDef.xsd",
    "iso2": "iso15118_2/V2G_CI_MsgDef.xsd",
    "iso20": "iso15118_20/V2G_CI_CommonMessages.xsd",
    "iso20_ac": "iso15118_20/V2G_CI_AC.xsd",
    "iso20_dc": "iso15118_20/V2G_CI_DC.xsd",
    "iso20_wpt": "iso15118_20/V2G_CI_WPT.xsd",
    "iso20_acdp": "iso15118_20/V2G_CI_ACDP.xsd",
}


def schema_set(name: str, schema_dir: str = SCHEMA_DIR) -> SchemaSet:
    """Load one schema set. The xmldsig import-path caveat (some XSDs import it from their own folder, where
    it does not exist) is resolved here by mapping its namespace to the single vendored copy."""
    return SchemaSet(
        os.path.join(schema_dir, SCHEMAS[name]),
        {XMLDSIG_NS: os.path.join(schema_dir, "xmldsig-core-schema.xsd")},
    )


def builder(name: str, schema_dir: str = SCHEMA_DIR) -> GrammarBuilder:
    # EXIficient (Josev) keeps an abstract substitution-group head as an SE production (ISO-2 BodyElement)
    return GrammarBuilder(schema_set(name, schema_dir), include_abstract_head=True)


def render(name: str, schema_dir: str = SCHEMA_DIR) -> tuple[str, str]:
    gen = ModuleGenerator(name, builder(name, schema_dir), f"schemas/{SCHEMAS[name]}")
    return gen.generate()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stack.exi.generate", description=__doc__)
    ap.add_argument("--out", default=OUT_DIR)
    ap.add_argument("--check", action="store_true", help="compare with the committed modules, write nothing")
    ap.add_argument("schemas", nargs="*", default=list(SCHEMAS))
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    init = os.path.join(args.out, "__init__.py")
    if not args.check and not os.path.exists(init):
        with open(init, "w") as f:
            f.write('"""Generated EXI grammar modules (see stack.exi.generate). Do not edit."""\n')
    stale = 0
    for name in args.schemas:
        t0 = time.perf_counter()
        code, meta = render(name)
        for fname, text in ((f"{name}.py", code), (f"{name}_meta.py", meta)):
            path = os.path.join(args.out, fname)
            if args.check:
                old = Path(path).read_text() if os.path.exists(path) else ""
                if old != text:
                    stale += 1
                    diff = list(difflib.unified_diff(old.splitlines(), text.splitlines(), path, "generated", n=1))
                    print(f"STALE {path} ({len(diff)} diff lines)")
                    print("\n".join(diff[:20]))
            else:
                with open(path, "w") as f:
                    f.write(text)
        print(f"{name}: {len(code) // 1024} KiB code, {len(meta) // 1024} KiB meta, {time.perf_counter() - t0:.2f} s")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
