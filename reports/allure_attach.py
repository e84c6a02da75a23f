"""Put a test's report material on its allure result: sequence chart, timing plots, pcapng, timeline.

Called by the report plugin at the end of each test (before allure-pytest closes the test result), only when
allure-pytest is active (`--alluredir`). Uses allure's public API (`allure.attach`, `allure.attach.file`).
"""

from __future__ import annotations

from pathlib import Path

from reports.model import TestResult
from reports.svg import standalone

_SVG_PARTS = (("sequence", "message sequence chart"), ("response", "response times vs limits"),
              ("cp", "control pilot: voltage and PWM"), ("power", "power loop: EVSE present vs EV targets"))


def allure_active(config) -> bool:
    return bool(getattr(config.option, "allure_report_dir", None))


def attach(test: TestResult, parts: dict[str, str], root: Path) -> list[str]:
    """Attach what exists; returns the attachment names (for logging and tests)."""
    import allure

    names: list[str] = []
    if test.failure is not None:
        allure.attach(test.failure.headline, name="failed requirement", attachment_type=allure.attachment_type.TEXT)
        names.append("failed requirement")
    for key, name in _SVG_PARTS:
        svg = parts.get(key)
        if svg:
            allure.attach(standalone(svg), name=name, attachment_type=allure.attachment_type.SVG)
            names.append(name)
    capture = test.files.get("capture")
    if capture and (root / capture).is_file():
        allure.attach.file(str(root / capture), name="capture.pcapng", attachment_type=allure.attachment_type.PCAP,
                           extension="pcapng")
        names.append("capture.pcapng")
    timeline = test.files.get("timeline")
    if timeline and (root / timeline).is_file():
        allure.attach.file(str(root / timeline), name="timeline.jsonl", attachment_type=allure.attachment_type.TEXT,
                           extension="jsonl")
        names.append("timeline.jsonl")
    return names
