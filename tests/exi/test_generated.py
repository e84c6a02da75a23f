"""The committed grammar modules are exactly what the generator makes from the vendored XSDs, the runtime
never parses XSD, and the grammar derivation matches facts stated in the EXI spec and PROTOCOL.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import stack.exi as exi
from stack.exi.generate.__main__ import OUT_DIR, SCHEMAS, builder, render
from stack.exi.generate.grammar import code_width

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("schema", list(SCHEMAS))
def test_committed_modules_are_up_to_date(schema):
    code, meta = render(schema)
    assert Path(OUT_DIR, f"{schema}.py").read_text() == code, "run: python -m stack.exi.generate"
    assert Path(OUT_DIR, f"{schema}_meta.py").read_text() == meta, "run: python -m stack.exi.generate"


def test_generation_is_deterministic_across_hash_seeds():
    code = (
        "from stack.exi.generate.__main__ import render; import hashlib;"
        "print(hashlib.sha256(render('iso2')[0].encode()).hexdigest())"
    )
    digests = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True,
                       env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}).stdout
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1


def test_runtime_imports_no_xsd_machinery():
    code = (
        "import sys, stack.exi as e;"
        "e.decode('din', bytes.fromhex('809a02004080c1014181c211d01811959401930c00'));"
        "print(sorted(m for m in sys.modules if m.startswith(('stack.exi.generate', 'xml'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"


def test_document_grammar_widths_match_the_captures():
    # PROTOCOL.md F: SAP streams start 80 00 / 80 40 (2-bit code), DIN V2G_Message 80 9a (7-bit code 77)
    din = builder("din")
    doc = din.document_elements()
    assert code_width(len(doc) + 1) == 7
    assert [e.qname[1] for e in doc].index("V2G_Message") == 77
    assert code_width(len(builder("apphand").document_elements()) + 1) == 2


def test_unrolled_bounds_become_counted_loops():
    # ISO-2 PMaxScheduleEntry maxOccurs=1024: one run state in the generated code, not 1024 states
    types = __import__("stack.exi._grammars.iso2_meta", fromlist=["META"]).META["types"]
    runs = [st for st in types["PMaxScheduleType"]["states"] if st[2]]
    assert runs and max(st[2] for st in runs) >= 1000
    assert len(types["PMaxScheduleType"]["states"]) < 10


def test_message_names():
    assert len(exi.message_names("din")) == 34
    assert len(exi.message_names("iso2")) == 34
    assert "DC_ChargeLoopReq" in exi.message_names("iso20_dc")
    assert "AC_ChargeLoopRes" in exi.message_names("iso20_ac")
    assert exi.message_names("apphand") == ("supportedAppProtocolReq", "supportedAppProtocolRes")
