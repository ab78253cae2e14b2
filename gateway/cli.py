"""The `labgw` command line (also `python -m gateway`).

Commands are thin: read files, call the pure core, write files and reports. Exceptions map to exit
codes in one place (`_Group.invoke`); findings in the data are Issues and decide between exit 0
(valid / everything accepted) and 1 (something invalid or rejected). 2 is usage or I/O.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from gateway import __version__
from gateway.clock import Clock, FixedClock, IdFactory, RandomIds, SequentialIds, SystemClock
from gateway.config import default_config, load_config
from gateway.errors import ExitCode, InputError, LabgwError
from gateway.intake import IntakeBatch, read_records
from gateway.mapping.tables import TableInfo, default_mappings
from gateway.pipeline import Translation, Translator
from gateway.report import Verdict, junit_report, operation_outcome, text_report
from gateway.xml.validate import XmlValidator

RECORD_SUFFIXES = (".json", ".ndjson", ".jsonl", ".csv")
PROGRESS_THRESHOLD = 2_000  # records; below this a bar is only noise


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LabgwError as exc:
            click.echo(f"labgw: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="labgw")
def main() -> None:
    """labgw: lab results from Danish general practice to Laboratoriesvarportalen and MiBa."""


def gather(paths: Iterable[Path], suffixes: tuple[str, ...]) -> list[Path]:
    """Files named directly, plus matching files under named folders (sorted, recursive)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"no such file or folder: {path}")
    if not found:
        raise InputError(f"no input files ({', '.join(suffixes)}) in {', '.join(map(str, paths))}")
    return found


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc


def _clock_and_ids(now: str | None) -> tuple[Clock, IdFactory]:
    if now is None:
        return SystemClock(), RandomIds()
    try:
        instant = datetime.fromisoformat(now)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {now!r}", param_hint="--now") from None
    if instant.tzinfo is None:
        raise click.BadParameter(
            "give an offset, e.g. 2025-06-03T08:00:00+00:00", param_hint="--now"
        )
    return FixedClock(instant), SequentialIds()


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Folder for the messages and summary.json.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--now",
    help="Fixed ISO 8601 time; with sequential envelope ids the output is "
    "byte-for-byte reproducible.",
)
@click.option(
    "--config",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Gateway configuration (TOML); default mappings/destinations.toml.",
)
def translate(
    inputs: tuple[Path, ...], out: Path, as_json: bool, now: str | None, config: Path | None
) -> None:
    """Translate LPS records (JSON, NDJSON, CSV) into validated MedCom messages."""
    clock, ids = _clock_and_ids(now)
    files = gather(inputs, RECORD_SUFFIXES)
    batch = IntakeBatch()
    for path in files:
        batch.extend(read_records(_read(path), str(path), now=clock.now()))
    translator = Translator(
        load_config(config) if config else default_config(),
        default_mappings(),
        XmlValidator(),
        clock,
        ids,
    )
    if len(batch.items) >= PROGRESS_THRESHOLD:
        with click.progressbar(
            length=len(batch.items), label="translating", file=sys.stderr
        ) as bar:
            result = translator.translate(batch, progress=bar.update)
    else:
        result = translator.translate(batch)
    summary = _write(result, out)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        _print_summary(result, out)
    counts = result.counts()
    if counts["rejected"] or any(issue.blocking for issue in result.file_issues):
        sys.exit(ExitCode.INVALID)


def _write(result: Translation, out: Path) -> dict[str, Any]:
    messages_dir = out / "messages"
    try:
        messages_dir.mkdir(parents=True, exist_ok=True)
        for message in result.messages:
            (messages_dir / message.filename).write_bytes(message.content)
        summary = summary_dict(result, default_mappings().tables)
        (out / "summary.json").write_text(
            json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    except OSError as exc:
        raise InputError(f"cannot write to {out}: {exc.strerror}") from exc
    return summary


def summary_dict(result: Translation, tables: tuple[TableInfo, ...] = ()) -> dict[str, Any]:
    """What a translation did, as JSON: counts, each record's fate, each message's coverage."""
    return {
        "counts": result.counts(),
        "tables": [{"file": t.name, "version": t.version} for t in tables],
        "fileIssues": [issue.to_dict() for issue in result.file_issues],
        "records": [
            {
                "record": o.label,
                "outcome": o.outcome.value,
                **({"destination": o.destination.value} if o.destination else {}),
                **({"message": o.message_id} if o.message_id else {}),
                **({"held": True} if o.held else {}),
                "issues": [issue.to_dict() for issue in o.issues],
            }
            for o in result.outcomes
        ],
        "messages": [
            {
                "id": m.message_id,
                "envelope": m.envelope_id,
                "destination": m.destination.value,
                "kind": m.kind,
                "file": f"messages/{m.filename}",
                "records": list(m.records),
                "issues": [issue.to_dict() for issue in m.issues],
                "coverage": [use.to_dict() for use in m.coverage],
            }
            for m in result.messages
        ],
    }


def _print_summary(result: Translation, out: Path) -> None:
    counts = result.counts()
    for issue in result.file_issues:
        click.echo(str(issue), err=True)
    for outcome in result.outcomes:
        for issue in outcome.issues:
            if issue.blocking:
                click.echo(str(issue), err=True)
    click.echo(
        f"{counts['input']} records: {counts['accepted']} accepted "
        f"({counts['held']} held for MiBa), {counts['rejected']} rejected, "
        f"{counts['filtered']} filtered; {counts['messages']} messages written to "
        f"{out / 'messages'}; summary in {out / 'summary.json'}"
    )


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "junit"]),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show information issues in text reports.")
def validate(inputs: tuple[Path, ...], fmt: str, verbose: bool) -> None:
    """Validate MedCom XML messages (XRPT01, XCTL02/03) offline; exit 1 if any is invalid."""
    validator = XmlValidator()
    verdicts = [
        Verdict(str(path), tuple(validator.iter_issues(_read(path), str(path))))
        for path in gather(inputs, (".xml",))
    ]
    if fmt == "json":
        payload = [
            {"file": v.name, "valid": v.valid, "outcome": operation_outcome(v.issues)}
            for v in verdicts
        ]
        click.echo(
            json.dumps(payload if len(payload) > 1 else payload[0], ensure_ascii=False, indent=2)
        )
    elif fmt == "junit":
        click.echo(junit_report(verdicts).decode("utf-8"), nl=False)
    else:
        click.echo(text_report(verdicts, verbose=verbose), nl=False)
    if not all(verdict.valid for verdict in verdicts):
        sys.exit(ExitCode.INVALID)
