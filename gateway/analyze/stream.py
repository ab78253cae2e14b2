"""Extracts of millions of rows, read in bounded memory.

`read_records` in intake holds a whole file; an extract of 5 million rows would need gigabytes.
Here the file is cut into blocks of whole rows and each block goes through the same intake
readers, so the analysis sees exactly the records, line numbers and Issues a translation would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from gateway.intake.contract import Contract
from gateway.intake.readers import (
    RawRecord,
    decode,
    detect_format,
    read_csv,
    read_json,
    read_ndjson,
)
from gateway.issues import Issue

BLOCK_ROWS = 4096


@dataclass(slots=True)
class Block:
    """Decoded records of one block, plus Issues about the file (encoding notes, syntax)."""

    records: list[RawRecord]
    file_issues: list[Issue]
    bytes_read: int


def stream_file(path: Path, contract: Contract) -> Iterator[Block]:
    """Blocks of records from one CSV or NDJSON extract; line numbers are those of the file."""
    source = path.name
    with path.open("rb") as handle:
        first = handle.readline()
        decode(first, source, latin1=True)  # an empty or binary file stops here, as in intake
        kind = detect_format(source, first.decode("utf-8", "replace"))
        if kind == "json":  # an array cannot be cut into blocks; such files are small
            data = first + handle.read()
            text, notes = decode(data, source, latin1=False)
            yield Block(list(read_json(text, source)), notes, len(data))
        elif kind == "csv":
            yield from _csv_blocks(handle, first, source, contract)
        else:
            yield from _ndjson_blocks(handle, first, source)


def _csv_blocks(
    handle: BinaryIO, header: bytes, source: str, contract: Contract
) -> Iterator[Block]:
    integer_fields = contract.integer_fields()
    head = header.removeprefix(b"\xef\xbb\xbf")  # each block is decoded with the header row
    line, index, unreported = 2, 0, len(header)
    for rows, size in _row_blocks(handle, quoted=True):
        text, notes = decode(head + b"".join(rows), source, latin1=True)
        records = [
            replace(raw, index=raw.index + index, line=raw.line and raw.line + line - 2)
            for raw in read_csv(text, source, integer_fields)
        ]
        yield Block(records, notes, size + unreported)
        line += sum(row.count(b"\n") for row in rows)
        index += len(records)
        unreported = 0
    if unreported:  # a header without rows
        yield Block([], [], unreported)


def _ndjson_blocks(handle: BinaryIO, first: bytes, source: str) -> Iterator[Block]:
    line, index = 1, 0
    for rows, size in _row_blocks(handle, quoted=False, pending=[first]):
        text, notes = decode(b"".join(rows), source, latin1=True)
        records = [
            replace(raw, index=raw.index + index, line=raw.line and raw.line + line - 1)
            for raw in read_ndjson(text, source)
        ]
        yield Block(records, notes, size)
        line += len(rows)
        index += len(records)


def _row_blocks(
    handle: BinaryIO, *, quoted: bool, pending: list[bytes] | None = None
) -> Iterator[tuple[list[bytes], int]]:
    """Blocks of whole rows; with `quoted`, a quoted CSV cell may span lines and is kept whole."""
    rows: list[bytes] = list(pending or [])
    size = sum(len(row) for row in rows)
    open_quote = False
    for row in handle:
        size += len(row)
        if open_quote:
            rows[-1] += row
        else:
            rows.append(row)
        if quoted and row.count(b'"') % 2:
            open_quote = not open_quote
        if len(rows) >= BLOCK_ROWS and not open_quote:
            yield rows, size
            rows, size = [], 0
    if rows and any(row.strip() for row in rows):
        yield rows, size
