"""The conformance catalogue's toolkit: what `testcases/` tests use, and the tools that keep the catalogue honest.

For tests (see testcases/README.md):
- the `v2g` fixture (`V2G`): our stack as the tester against the DUT, `start`/`expect`/`run_until`/`run_to_end`,
  tester faults and commands, DUT commands, reading messages/exchanges, and checks that name the requirement;
- `Fault` (tester-side faults to stage a faulty peer), `T_session`, `T_reaction`, `T_linger`;
- the `fails_with(...)` marker (`harness.catalogue.plugin`).

Tools (`python -m harness.catalogue ...`): `check-faults` (every test passes on the clean sim DUT and fails with each
declared fault, naming its requirement), `requirements` (regenerate testcases/REQUIREMENTS.md), `count`.
"""

from __future__ import annotations

from harness.catalogue.checks import T_reaction
from harness.catalogue.points import Exchange
from harness.catalogue.seats import Seat, register_seat
from harness.catalogue.v2g import V2G, T_linger, T_session
from stack.sessions.faults import Fault

__all__ = ["V2G", "Exchange", "Fault", "Seat", "T_linger", "T_reaction", "T_session", "register_seat"]
