"""A minimal SVG writer and the shared chart style.

Why hand-written SVG rather than matplotlib: the report must be one offline HTML file with hundreds of small
charts; generated SVG is a few KB per chart, carries our own ids/classes (so tests can check structure and the
HTML can link to a highlighted violation), needs no numpy/matplotlib (≈ 40 MB, ~1 s import per worker) and renders
identically everywhere because it has no embedded fonts or raster parts.
"""

from __future__ import annotations

import math
from html import escape

# One stylesheet for every chart. Inline SVG in the HTML page gets it once from the page; standalone SVG files
# (allure attachments, files beside the report) embed it.
STYLE = """
.cc-bg{fill:#fff}
.cc-grid{stroke:#e3e6ea;stroke-width:1}
.cc-axis{stroke:#6b7280;stroke-width:1}
.cc-lane{stroke:#9ca3af;stroke-width:1.2;stroke-dasharray:4 3}
.cc-lanehead{fill:#f3f4f6;stroke:#6b7280}
.cc-dut{fill:#fff7ed;stroke:#c2410c}
.cc-t{font:11px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;fill:#374151}
.cc-small{font:10px ui-sans-serif,system-ui,sans-serif;fill:#6b7280}
.cc-label{font:11px ui-sans-serif,system-ui,sans-serif;fill:#111827}
.cc-head{font:bold 12px ui-sans-serif,system-ui,sans-serif;fill:#111827}
.cc-msg{stroke:#1f2937;stroke-width:1.3;fill:none}
.cc-ah{fill:#1f2937}
.cc-ah-viol{fill:#dc2626}
.cc-local{stroke:#9ca3af;stroke-width:1;fill:none;stroke-dasharray:2 2}
.cc-cp{fill:#e0f2fe;stroke:#0369a1}
.cc-note{fill:#f9fafb;stroke:#d1d5db}
.cc-fold{fill:#f3f4f6}
.cc-viol{fill:#fee2e2}
.cc-violline{stroke:#dc2626;stroke-width:2.4;fill:none}
.cc-violtext{font:bold 11px ui-sans-serif,system-ui,sans-serif;fill:#b91c1c}
.cc-err{fill:#fef3c7}
.cc-late{fill:#b91c1c;font-weight:bold}
.cc-s1{stroke:#2563eb;stroke-width:1.6;fill:none}
.cc-s2{stroke:#ea580c;stroke-width:1.6;fill:none}
.cc-s3{stroke:#16a34a;stroke-width:1.2;fill:none;stroke-dasharray:5 3}
.cc-s4{stroke:#7c3aed;stroke-width:1.2;fill:none;stroke-dasharray:2 3}
.cc-d1{fill:#2563eb}.cc-d2{fill:#ea580c}.cc-d3{fill:#16a34a}.cc-d4{fill:#7c3aed}
.cc-pt{fill:#2563eb;opacity:.85}
.cc-pt-bad{fill:#dc2626}
.cc-limit{stroke:#dc2626;stroke-width:1.5}
.cc-phase{fill:#f1f5f9}
"""


def fmt(value: float) -> str:
    """Coordinates with at most one decimal: small files, no visible loss."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


class Svg:
    def __init__(self, width: float, height: float, css_class: str, title: str, element_id: str | None = None):
        self.width, self.height, self.css_class, self.title, self.id = width, height, css_class, title, element_id
        self.parts: list[str] = []

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    def line(self, x1: float, y1: float, x2: float, y2: float, cls: str, extra: str = "") -> None:
        self.parts.append(f'<line x1="{fmt(x1)}" y1="{fmt(y1)}" x2="{fmt(x2)}" y2="{fmt(y2)}" class="{cls}"{extra}/>')

    def rect(self, x: float, y: float, w: float, h: float, cls: str, rx: float = 0, extra: str = "") -> None:
        radius = f' rx="{fmt(rx)}"' if rx else ""
        self.parts.append(f'<rect x="{fmt(x)}" y="{fmt(y)}" width="{fmt(max(w, 0))}" height="{fmt(max(h, 0))}"'
                          f'{radius} class="{cls}"{extra}/>')

    def text(self, x: float, y: float, content: str, cls: str = "cc-label", anchor: str = "start",
             tooltip: str | None = None) -> None:
        anchor_attr = "" if anchor == "start" else f' text-anchor="{anchor}"'
        inner = escape(content, quote=False)
        if tooltip:
            inner = f"<title>{escape(tooltip, quote=False)}</title>{inner}"
        self.parts.append(f'<text x="{fmt(x)}" y="{fmt(y)}" class="{cls}"{anchor_attr}>{inner}</text>')

    def path(self, points: list[tuple[float, float]], cls: str, step: bool = False) -> None:
        """A polyline; `step` draws a staircase (the value holds until the next sample)."""
        if not points:
            return
        commands = [f"M{fmt(points[0][0])} {fmt(points[0][1])}"]
        for x, y in points[1:]:
            commands.append(f"H{fmt(x)}V{fmt(y)}" if step else f"L{fmt(x)} {fmt(y)}")
        self.parts.append(f'<path d="{"".join(commands)}" class="{cls}"/>')

    def circle(self, x: float, y: float, r: float, cls: str, tooltip: str | None = None) -> None:
        inner = f"<title>{escape(tooltip, quote=False)}</title>" if tooltip else ""
        close = f">{inner}</circle>" if inner else "/>"
        self.parts.append(f'<circle cx="{fmt(x)}" cy="{fmt(y)}" r="{fmt(r)}" class="{cls}"{close}')

    def render(self, standalone: bool = False) -> str:
        head = ('<svg xmlns="http://www.w3.org/2000/svg"' if standalone else "<svg")
        ident = f' id="{escape(self.id)}"' if self.id else ""
        out = [f'{head}{ident} class="cc-chart {self.css_class}" viewBox="0 0 {fmt(self.width)} {fmt(self.height)}"'
               f' width="{fmt(self.width)}" height="{fmt(self.height)}" role="img" aria-label="{escape(self.title)}">',
               f"<title>{escape(self.title, quote=False)}</title>"]
        if standalone:
            out.append(f"<style>{STYLE}</style>")
        out.append(f'<rect x="0" y="0" width="{fmt(self.width)}" height="{fmt(self.height)}" class="cc-bg"/>')
        out.extend(self.parts)
        out.append("</svg>")
        return "\n".join(out) if standalone else "".join(out)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 0.001:
        ticks.append(round(value, 10))
        value += step
    return ticks


class Axis:
    """Linear mapping from data to pixels."""

    def __init__(self, low: float, high: float, pixel_low: float, pixel_high: float) -> None:
        if high <= low:
            high = low + 1.0
        self.low, self.high, self.p0, self.p1 = low, high, pixel_low, pixel_high

    def __call__(self, value: float) -> float:
        return self.p0 + (value - self.low) / (self.high - self.low) * (self.p1 - self.p0)


class LogAxis:
    def __init__(self, low: float, high: float, pixel_low: float, pixel_high: float) -> None:
        self.low, self.high = math.log10(low), math.log10(high)
        self.p0, self.p1 = pixel_low, pixel_high

    def __call__(self, value: float) -> float:
        value = min(max(value, 10 ** self.low), 10 ** self.high)
        return self.p0 + (math.log10(value) - self.low) / (self.high - self.low) * (self.p1 - self.p0)


def standalone(inline_svg: str) -> str:
    """An inline chart (styled by the page) as a file of its own: namespace and stylesheet embedded."""
    head, sep, rest = inline_svg.partition("<svg")
    if not sep:
        return inline_svg
    out = '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"' + rest
    close = out.index("</title>") + len("</title>") if "</title>" in out else out.index(">") + 1
    return out[:close] + f"<style>{STYLE}</style>" + out[close:]
