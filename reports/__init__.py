"""Conformance reports: the run model, a self-contained HTML page, sequence charts and timing plots as SVG,
per-test pcapng captures, allure attachments and JUnit properties (see docs/reports.md)."""
