"""Splits an input file into decoded records: JSON (one or a list), NDJSON, CSV.

Each reader yields one `RawRecord` per input record, carrying either the decoded value or the
Issues that kept it from being decoded, so one broken line never takes its neighbours with it.
Problems with the file as a whole (empty, undecodable, not JSON at all) are `FileProblem`s.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from gateway.fhir.jsonparse import nesting_depth
from gateway.issues import Issue, IssueType, Severity

MAX_LINE = 1 << 20  # 1 MiB: no LPS record is anywhere near; longer lines are rejected unread
# An LPS record nests under 6 levels (record, results, result, value). The limit also keeps
# json.loads from a RecursionError and labgw's own walks shallow.
MAX_DEPTH = 16
_HUGE = "\x00labgw-line-too-long\x00"
# Fields that sit at the top of a record; every other CSV column is group_field.
_TOP_LEVEL = {"recordId", "version", "status", "consent", "performedAt"}


@dataclass(slots=True)
class RawRecord:
    """One input record, decoded (`data`) or not (`issues`)."""

    index: int
    line: int | None
    data: object = None
    issues: list[Issue] = field(default_factory=list)


class FileProblem(Exception):
    """The file as a whole cannot be read as records."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


def _file_issue(
    rule: str,
    message: str,
    source: str,
    code: IssueType = IssueType.STRUCTURE,
    line: int | None = None,
) -> Issue:
    return Issue(Severity.FATAL, code, rule, message, source=source, line=line)


def decode(data: bytes, source: str, *, latin1: bool) -> tuple[str, list[Issue]]:
    """Bytes to text: UTF-8 with or without BOM; Latin-1 as fallback where allowed.

    Raises:
        FileProblem: empty, binary/UTF-16, or not UTF-8 where Latin-1 is not allowed.
    """
    if not data.strip():
        raise FileProblem(
            _file_issue("LPS-EMPTY", "the file holds no records", source, IssueType.REQUIRED)
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        raise FileProblem(
            _file_issue(
                "LPS-ENCODING",
                "binary or UTF-16 content; records must be UTF-8 (or Latin-1 for CSV)",
                source,
                IssueType.INVALID,
            )
        )
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        if not latin1:
            raise FileProblem(
                _file_issue(
                    "LPS-ENCODING",
                    f"not UTF-8 (byte {exc.start}); JSON must be UTF-8",
                    source,
                    IssueType.INVALID,
                )
            ) from exc
        note = Issue(
            Severity.INFORMATION,
            IssueType.INFORMATIONAL,
            "LPS-ENCODING-LATIN1",
            "not UTF-8; read as Latin-1 (ISO 8859-1)",
            source=source,
        )
        return data.decode("latin-1"), [note]


def detect_format(name: str, text: str) -> str:
    """`json`, `ndjson` or `csv`, from the file name, else from the content."""
    lowered = name.lower()
    for suffix, kind in (
        (".ndjson", "ndjson"),
        (".jsonl", "ndjson"),
        (".json", "json"),
        (".csv", "csv"),
        (".txt", "csv"),
    ):
        if lowered.endswith(suffix):
            return kind
    start = text.lstrip()[:1]
    if start == "[":
        return "json"
    if start == "{":
        first_line = text.lstrip().split("\n", 1)[0].strip()
        return "ndjson" if first_line.endswith("}") and "\n" in text.strip() else "json"
    return "csv"


def lines(text: str, *, keepends: bool = False) -> list[str]:
    """Split on line feeds only (`\r\n` too), never on U+2028, U+0085, form feed …

    `str.splitlines` treats those as line ends; inside a record they are just characters
    (U+0085 is "…" in a Windows-1252 file read as Latin-1).
    """
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    if keepends:
        return [part + "\n" for part in parts]
    return [part[:-1] if part.endswith("\r") else part for part in parts]


def read_json(text: str, source: str) -> Iterator[RawRecord]:
    """One JSON value: an object (one record) or an array of records."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" or _looks_like_ndjson(text):
            yield from read_ndjson(text, source)
            return
        raise FileProblem(
            _file_issue(
                "LPS-JSON-SYNTAX",
                f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                source,
                line=exc.lineno,
            )
        ) from exc
    except RecursionError:
        raise FileProblem(_too_deep(source, None, Severity.FATAL)) from None
    items = value if isinstance(value, list) else [value]
    if nesting_depth(items, MAX_DEPTH + 1) > MAX_DEPTH + 1:  # + 1: the array around records
        raise FileProblem(_too_deep(source, None, Severity.FATAL))
    if not items:
        raise FileProblem(
            _file_issue("LPS-EMPTY", "the JSON array holds no records", source, IssueType.REQUIRED)
        )
    for index, item in enumerate(items):
        yield _object(RawRecord(index, None, item), source)


def _looks_like_ndjson(text: str) -> bool:
    """Several lines, each an object: one broken line must not sink the others."""
    starts = [line.lstrip()[:1] for line in lines(text) if line.strip()]
    return len(starts) > 1 and all(start == "{" for start in starts)


def read_ndjson(text: str, source: str) -> Iterator[RawRecord]:
    """One JSON object per line; blank lines are skipped, every other line is a record."""
    index = 0
    for number, line in enumerate(lines(text), start=1):
        if not line.strip():
            continue
        raw = RawRecord(index, number)
        index += 1
        if len(line) > MAX_LINE:
            raw.issues.append(_too_long(source, number, len(line)))
        else:
            try:
                raw.data = json.loads(line)
                if nesting_depth(raw.data, MAX_DEPTH) > MAX_DEPTH:
                    raw.data = None
                    raw.issues.append(_too_deep(source, number, Severity.ERROR))
            except RecursionError:
                raw.issues.append(_too_deep(source, number, Severity.ERROR))
            except json.JSONDecodeError as exc:
                raw.issues.append(
                    Issue(
                        Severity.ERROR,
                        IssueType.STRUCTURE,
                        "LPS-JSON-SYNTAX",
                        f"not valid JSON: {exc.msg} (column {exc.colno})",
                        source=source,
                        line=number,
                    )
                )
        yield _object(raw, source)


def _object(raw: RawRecord, source: str) -> RawRecord:
    if not raw.issues and not isinstance(raw.data, dict):
        raw.issues.append(
            Issue(
                Severity.ERROR,
                IssueType.STRUCTURE,
                "LPS-NOT-OBJECT",
                f"a record is a JSON object, found {type(raw.data).__name__}",
                source=source,
                line=raw.line,
            )
        )
    return raw


def _too_deep(source: str, line: int | None, severity: Severity) -> Issue:
    return Issue(
        severity,
        IssueType.TOO_COSTLY,
        "LPS-JSON-TOO-DEEP",
        f"JSON nested deeper than the {MAX_DEPTH} levels a record may have; not read",
        source=source,
        line=line,
    )


def _too_long(source: str, line: int, length: int) -> Issue:
    return Issue(
        Severity.ERROR,
        IssueType.TOO_COSTLY,
        "LPS-LINE-TOO-LONG",
        f"line of {length} characters is longer than the {MAX_LINE} allowed; not read",
        source=source,
        line=line,
    )


def read_csv(text: str, source: str, integer_fields: Iterable[str]) -> Iterator[RawRecord]:
    """The Health Hub extract shape: one header row, `;` or `,`, fields flattened with `_`."""
    rows = lines(text, keepends=True)
    header_line = rows[0] if rows else ""
    delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
    numbers = set(integer_fields)
    reader = csv.reader(_guard(rows), delimiter=delimiter, strict=True)
    try:
        header = [name.strip() for name in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise FileProblem(
            _file_issue("LPS-CSV-SYNTAX", f"no readable header row: {exc}", source, line=1)
        ) from exc
    paths = [_column_path(name) for name in header]
    index = 0
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRecord(
                index,
                start,
                issues=[
                    Issue(
                        Severity.ERROR,
                        IssueType.STRUCTURE,
                        "LPS-CSV-SYNTAX",
                        f"unreadable row: {exc}",
                        source=source,
                        line=start,
                    )
                ],
            )
            index += 1
            continue
        if not any(cell.strip() for cell in row):
            continue
        raw = RawRecord(index, start)
        index += 1
        if _HUGE in row:
            raw.issues.append(_too_long(source, start, MAX_LINE + 1))
        elif len(row) != len(header):
            raw.issues.append(
                Issue(
                    Severity.ERROR,
                    IssueType.STRUCTURE,
                    "LPS-CSV-ROW",
                    f"expected {len(header)} cells as in the header, found {len(row)}",
                    source=source,
                    line=start,
                )
            )
        else:
            raw.data = _nest(paths, row, numbers)
        yield raw


def _guard(lines: list[str]) -> Iterator[str]:
    for number, line in enumerate(lines):
        if number and len(line) > MAX_LINE:
            yield _HUGE + "\n"
        else:
            yield line


def _column_path(name: str) -> tuple[str, ...]:
    if name in _TOP_LEVEL or "_" not in name:
        return (name,)
    group, _, leaf = name.partition("_")
    return (group, leaf)


def _nest(paths: list[tuple[str, ...]], row: list[str], numbers: set[str]) -> dict[str, object]:
    """A flat CSV row as the nested record; empty cells are absent fields."""
    record: dict[str, object] = {}
    for path, cell in zip(paths, row, strict=True):
        value: object = cell.strip()
        if value == "":
            continue
        dotted = ".".join(path)
        if dotted in numbers and isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        if len(path) == 1:
            record[path[0]] = value
        else:
            group = record.setdefault(path[0], {})
            if isinstance(group, dict):
                group[path[1]] = value
    return record
