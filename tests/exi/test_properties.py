"""Property tests: for every message type of every schema, grammar-generated valid messages round-trip, and
the fast generated codec produces exactly the bytes of the slow reference codec that walks the grammar."""

from __future__ import annotations

import os
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stack.exi as exi
from stack.exi.generate.__main__ import builder
from stack.exi.generate.reference import ReferenceCodec

from .strategies import message_strategy

EXAMPLES = int(os.environ.get("EXI_HYPOTHESIS_EXAMPLES", "15"))  # raise for a deeper run
CASES = [(schema, name) for schema in exi.SCHEMAS for name in exi.message_names(schema)]


@cache
def reference(schema: str) -> ReferenceCodec:
    return ReferenceCodec(builder(schema))


def test_every_schema_has_messages():
    assert len(CASES) == 130  # 2 + 34 + 34 + 26 + 4 + 10 + 12 + 8
    assert {s for s, _ in CASES} == set(exi.SCHEMAS)


@pytest.mark.parametrize(("schema", "name"), CASES, ids=[f"{s}-{n}" for s, n in CASES])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_round_trip(schema, name, data):
    msg = data.draw(message_strategy(schema, name))
    encoded = exi.encode(schema, msg)
    assert encoded[0] == 0x80
    assert exi.decode(schema, encoded) == msg
    assert reference(schema).encode(msg) == encoded
    assert reference(schema).decode(encoded) == msg
