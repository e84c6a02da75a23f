"""Read the catalogue's requirement list, `testcases/REQUIREMENTS.md`, into `RequirementRow`s.

Expected format (documented in docs/reports.md): one line per requirement ID, preferably a markdown table whose
FIRST column is the ID, with a header row naming the columns:

    | ID | Demands | Source | Tests |
    |----|---------|--------|-------|
    | V2G-DC-116 | After an error the SECC closes the TCP connection | DIN 70121 …; EVerest … | test_close_after_failed |
    | CCSHIL-CP-001 | (our own ID) ... | IEC 61851-1 Annex A | … |

Tolerated as well: IDs wrapped in backticks, brackets (`[V2G2-123]`), bold or links; bullet lines
(`- V2G2-123: text` or `- **V2G2-123** — text`). Columns are found by header name, case-insensitive:
text = demands/description/requirement text/paraphrase/what, source = source/reference, coverage = tests/
covered by/coverage/test cases/why. A row is "set aside" when it sits under a heading containing "set aside"
(or "not covered"/"out of scope") or a status column says "set aside". Rows whose first cell is not an ID (the
header, separators) are skipped, and so are tables whose header's first column is not called ID/Requirement. Duplicate IDs keep the first row.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from reports.model import RequirementRow

# An ID starts with one token with at least one separator: V2G2-123, V2G-DC-116, V2G3-M06-07, TT_match_sequence,
# CCSHIL-SLAC-003; IEC 61851-1 rows are cited by clause and may go on with spaces
# ("IEC61851-1:2017 Table A.6 Seq 8.1", as ../shared/requirements.csv spells them).
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_.:/][A-Za-z0-9]+)+$")
_ID_HEADER = re.compile(r"(?i)\b(id|ids|requirement|requirements|req)\b")
_HEADINGS_SET_ASIDE = ("set aside", "set-aside", "not covered", "out of scope")
_TEXT_COLUMNS = ("demand", "description", "text", "paraphrase", "what", "summary", "requirement")
_SOURCE_COLUMNS = ("source", "reference", "cited")
_COVERAGE_COLUMNS = ("test", "covered", "coverage", "why")
_STATUS_COLUMNS = ("status", "note")


class RequirementsFormatError(ValueError):
    """REQUIREMENTS.md could not be read at all (missing file, not text)."""


def clean_id(cell: str) -> str | None:
    """The requirement ID in a first cell, or None when the cell is not one."""
    text = cell.strip()
    link = re.match(r"^\[([^\]]+)\]\([^)]*\)$", text)  # [ID](#anchor)
    if link:
        text = link.group(1)
    text = text.strip("*_` ").strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip("*_` ")
    first = text.split(" ", 1)[0]
    if len(text) > 100 or not _ID.match(first):
        return None
    return " ".join(text.split())


def _split_row(line: str) -> list[str]:
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    cells, current, escaped = [], [], False
    for char in body:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            cells.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    cells.append("".join(current).strip())
    return cells


def _is_separator(line: str) -> bool:
    return bool(re.match(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$", line))


def _column(header: list[str], names: tuple[str, ...], exclude: set[int]) -> int | None:
    for index, title in enumerate(header):
        if index == 0 or index in exclude:
            continue
        low = title.lower()
        if any(name in low for name in names):
            return index
    return None


def parse_requirements(text: str) -> list[RequirementRow]:
    rows: list[RequirementRow] = []
    seen: set[str] = set()
    section = ""
    header: list[str] = []
    columns: dict[str, int | None] = {}
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            section = stripped.lstrip("#").strip()
            header, columns = [], {}
            continue
        if stripped.startswith("|"):
            if _is_separator(stripped):
                continue
            cells = _split_row(stripped)
            following = lines[number] if number < len(lines) else ""
            if _is_separator(following):  # a header row
                header = cells
                used: set[int] = set()
                for key, names in (("source", _SOURCE_COLUMNS), ("coverage", _COVERAGE_COLUMNS),
                                   ("status", _STATUS_COLUMNS), ("text", _TEXT_COLUMNS)):
                    columns[key] = _column(header, names, used)
                    if columns[key] is not None:
                        used.add(columns[key])  # type: ignore[arg-type]
                if columns.get("text") is None and len(header) > 1:
                    columns["text"] = next((i for i in range(1, len(header)) if i not in used), None)
                continue
            if header and not _ID_HEADER.search(header[0]):
                continue  # a table of something else (counts, sources): its first column holds no IDs
            rid = clean_id(cells[0]) if cells else None
            if rid is None or rid in seen:
                continue
            seen.add(rid)

            def cell(key: str, cells: list[str] = cells, columns: dict[str, int | None] = columns) -> str:
                index = columns.get(key)
                if index is None:
                    index = 1 if key == "text" else None
                return cells[index] if index is not None and index < len(cells) else ""

            status = cell("status").lower()
            rows.append(RequirementRow(
                id=rid, text=cell("text"), source=cell("source"), coverage_note=cell("coverage"), section=section,
                set_aside=_aside(section) or "set aside" in status or "set-aside" in status, line=number))
            continue
        bullet = re.match(r"^\s*[-*+]\s+(\S+)\s*(.*)$", line)
        if bullet:
            rid = clean_id(bullet.group(1).rstrip(":"))
            if rid and rid not in seen:
                seen.add(rid)
                rows.append(RequirementRow(id=rid, text=re.sub(r"^(?:[:—–]|-(?=\s))\s*", "", bullet.group(2)).strip(),
                                           section=section,
                                           set_aside=_aside(section), line=number))
    return rows


def _aside(section: str) -> bool:
    low = section.lower()
    return any(word in low for word in _HEADINGS_SET_ASIDE)


def load_requirements(path: str | Path) -> list[RequirementRow]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RequirementsFormatError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RequirementsFormatError(f"{path}: cannot read ({exc})") from None
    return parse_requirements(text)


def parse_requirements_csv(text: str) -> list[RequirementRow]:
    """Rows of a requirements CSV in the columns of ../shared/requirements.csv and testcases/requirements.csv
    (`id, standard, role, topic, wire_testable, paraphrase, sources`); unknown columns are ignored."""
    rows: list[RequirementRow] = []
    seen: set[str] = set()
    reader = csv.DictReader(io.StringIO(text))
    for number, entry in enumerate(reader, start=2):
        entry = {str(k).strip().lower(): (v or "").strip() for k, v in entry.items() if k}
        rid = clean_id(entry.get("id", ""))
        if rid is None or rid in seen:
            continue
        seen.add(rid)
        text_value = entry.get("paraphrase") or entry.get("text") or entry.get("description") or ""
        source = "; ".join(v for v in (entry.get("standard"), entry.get("sources") or entry.get("source")) if v)
        note = "not observable on the wire" if entry.get("wire_testable", "").lower() == "no" else ""
        rows.append(RequirementRow(id=rid, text=text_value, source=source, coverage_note=note,
                                   section="requirements.csv", line=number))
    return rows


def find_catalogue(start: str | Path) -> Path | None:
    """The `testcases/` folder holding REQUIREMENTS.md or requirements.csv, under `start` or a parent."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "testcases"
        if (candidate / "REQUIREMENTS.md").is_file() or (candidate / "requirements.csv").is_file():
            return candidate
    return None


def find_requirements_file(start: str | Path) -> Path | None:
    """`testcases/REQUIREMENTS.md` under `start` or one of its parents (the pytest rootdir usually)."""
    folder = find_catalogue(start)
    if folder is None or not (folder / "REQUIREMENTS.md").is_file():
        return None
    return folder / "REQUIREMENTS.md"


def load_catalogue(folder: Path) -> tuple[list[RequirementRow], list[str]]:
    """REQUIREMENTS.md (the list) enriched by requirements.csv (texts and sources of the catalogue's own IDs);
    CSV IDs that REQUIREMENTS.md lacks are added after it. Returns the rows and the files used."""
    rows: list[RequirementRow] = []
    used: list[str] = []
    markdown, table = folder / "REQUIREMENTS.md", folder / "requirements.csv"
    if markdown.is_file():
        rows = load_requirements(markdown)
        used.append(str(markdown))
    if table.is_file():
        try:
            extra = parse_requirements_csv(table.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise RequirementsFormatError(f"{table}: cannot read ({exc})") from None
        used.append(str(table))
        known = {row.id: row for row in rows}
        for row in extra:
            mine = known.get(row.id)
            if mine is None:
                rows.append(row)
            else:
                mine.text = mine.text or row.text
                mine.source = mine.source or row.source
    return rows, used


def render_requirements(rows: list[RequirementRow], sources: list[str]) -> str:
    """One normalised markdown table (the recording's REQUIREMENTS.md); `parse_requirements` reads it back."""
    def cell(text: str) -> str:
        return " ".join(text.replace("|", "\\|").split())

    lines = ["# Requirements as this run saw them", "",
             "Generated by ccs-hil from: " + (", ".join(sources) or "(no requirement list found)"), "",
             "| ID | Demands | Source | Tests | Status |", "|----|---------|--------|-------|--------|"]
    for row in rows:
        lines.append(f"| {cell(row.id)} | {cell(row.text)} | {cell(row.source)} | {cell(row.coverage_note)} | "
                     f"{'set aside' if row.set_aside else ''} |")
    return "\n".join(lines) + "\n"
