"""The `link` fixture of the conformance catalogue (CP, SLAC and SDP tests; `harness.catalogue.link.Link`),
registered by `harness.plugin` next to the catalogue's own plugin."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def link(bench: Any) -> Any:
    """The lower layers of one connection under test: our stack as the tester against the DUT, SLAC on."""
    from harness.catalogue.link import Link

    return Link(bench)
