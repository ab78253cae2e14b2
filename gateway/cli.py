"""The `labgw` command line (also `python -m gateway`).

Commands are thin: read files, call the pure core, write files and reports. Exceptions map to exit
codes in one place (`_Group.invoke`); findings in the data are Issues and decide between exit 0
(valid / everything accepted) and 1 (something invalid or rejected). 2 is usage or I/O.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from gateway import __version__
from gateway.analyze import analyze_files
from gateway.analyze.html import render_html
from gateway.analyze.sample import generate
from gateway.analyze.text import text_summary
from gateway.cli_sign import password_file_option, read_password, sign, verify
from gateway.clock import Clock, FixedClock, IdFactory, RandomIds, SequentialIds, SystemClock
from gateway.config import GatewayConfig, default_config, load_config
from gateway.equivalence import compare_translations
from gateway.errors import ExitCode, InputError, LabgwError
from gateway.fhir.validate import FhirValidator
from gateway.intake import IntakeBatch, read_records
from gateway.issues import Issue
from gateway.mapping.tables import TableInfo, default_mappings
from gateway.pipeline import Translation, Translator
from gateway.pki import DEFAULT_PASSWORD, build_test_pki
from gateway.report import Verdict, junit_report, operation_outcome, text_report
from gateway.security.expiry import DEFAULT_WARN_DAYS, iter_expiry_issues, summarise
from gateway.security.keys import load_certificates
from gateway.xml.validate import XmlValidator

RECORD_SUFFIXES = (".json", ".ndjson", ".jsonl", ".csv")
PROGRESS_THRESHOLD = 2_000  # records; below this a bar is only noise


# Commands whose modules pull in the HTTP and database stacks: imported only when used, so
# `translate`, `validate` and `analyze` start fast and small.
_LAZY = {
    "serve": "gateway.cli_serve:serve",
    "outbox": "gateway.cli_serve:outbox",
    "history": "gateway.cli_serve:history",
    "demo": "gateway.cli_serve:demo",
    "receiver": "gateway.cli_receiver:receiver",
    "conformance": "gateway.cli_conformance:conformance",
}


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_LAZY])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY:
            module, _, name = _LAZY[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), name)
            return command
        return super().get_command(ctx, cmd_name)

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


def is_fhir_json(path: Path, data: bytes) -> bool:
    """FHIR JSON, not XML: a `.json` file, or content that opens with `{` (after a BOM/blanks)."""
    return path.suffix.lower() == ".json" or data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


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
@click.option(
    "--format",
    "syntax",
    type=click.Choice(["xml", "fhir"]),
    help="Send every destination MedCom XML (XRPT01/XRPT05) or the FHIR message, whatever "
    "the configuration says.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Also render the other syntax and report any difference between XML and FHIR.",
)
def translate(
    inputs: tuple[Path, ...],
    out: Path,
    as_json: bool,
    now: str | None,
    config: Path | None,
    syntax: str | None,
    check: bool,
) -> None:
    """Translate LPS records (JSON, NDJSON, CSV) into validated MedCom messages."""
    clock, ids = _clock_and_ids(now)
    files = gather(inputs, RECORD_SUFFIXES)
    batch = IntakeBatch()
    for path in files:
        batch.extend(read_records(_read(path), str(path), now=clock.now()))
    settings = load_config(config) if config else default_config()
    if syntax:
        settings = settings.with_format(syntax)
    translator = _translator(settings, clock, ids)
    if len(batch.items) >= PROGRESS_THRESHOLD:
        with click.progressbar(
            length=len(batch.items), label="translating", file=sys.stderr
        ) as bar:
            result = translator.translate(batch, progress=bar.update)
    else:
        result = translator.translate(batch)
    summary = _write(result, out)
    differences: list[Issue] = []
    if check:
        differences = _check(batch, result, settings, syntax or "xml", clock)
        summary["check"] = [issue.to_dict() for issue in differences]
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        _print_summary(result, out)
        for issue in differences:
            click.echo(str(issue), err=True)
    counts = result.counts()
    if counts["rejected"] or differences or any(issue.blocking for issue in result.file_issues):
        sys.exit(ExitCode.INVALID)


def _translator(settings: GatewayConfig, clock: Clock, ids: IdFactory) -> Translator:
    """A translator; the FHIR validator is built only when a destination receives FHIR."""
    fhir = None
    if any(r.format == "fhir" for r in settings.destinations.values()):
        from gateway.fhir.validate import FhirValidator

        fhir = FhirValidator()
    return Translator(settings, default_mappings(), XmlValidator(), clock, ids, fhir)


def _check(
    batch: IntakeBatch, result: Translation, settings: GatewayConfig, syntax: str, clock: Clock
) -> list[Issue]:
    """Render the other syntax too and compare XML and FHIR letter by letter."""
    other = "xml" if syntax == "fhir" else "fhir"
    twin = _translator(settings.with_format(other), clock, SequentialIds()).translate(batch)
    xml, fhir = (twin, result) if other == "xml" else (result, twin)
    pairs, issues = compare_translations(xml, fhir, default_mappings())
    click.echo(
        f"check: {pairs} letters compared, "
        f"{'XML and FHIR equivalent' if not issues else f'{len(issues)} differences'}",
        err=True,
    )
    return issues


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
        f"({counts['held']} held), {counts['rejected']} rejected, "
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
@click.option(
    "--ig",
    "igs",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="FHIR package (.tgz or folder, or a folder of them) to validate FHIR JSON against; "
    "repeatable.",
)
def validate(inputs: tuple[Path, ...], fmt: str, verbose: bool, igs: tuple[Path, ...]) -> None:
    """Validate MedCom XML messages and FHIR JSON messages offline; exit 1 if any is invalid."""
    xml_validator: XmlValidator | None = None
    fhir_validator: FhirValidator | None = None
    verdicts = []
    for path in gather(inputs, (".xml", ".json")):
        data = _read(path)
        if is_fhir_json(path, data):
            fhir_validator = fhir_validator or FhirValidator(ig_paths=igs)
            issues = tuple(fhir_validator.iter_issues(data, str(path)))
        else:
            xml_validator = xml_validator or XmlValidator()
            issues = tuple(xml_validator.iter_issues(data, str(path)))
        verdicts.append(Verdict(str(path), issues))
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


@main.command()
@click.argument("extracts", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report as one standalone HTML page.",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report as JSON.",
)
@click.option(
    "--make-sample",
    "sample_rows",
    type=click.IntRange(min=1),
    metavar="N",
    help="Instead: write a synthetic extract of N rows with known defects to stdout.",
)
@click.option("--seed", default=1, show_default=True, help="Random seed for --make-sample.")
@click.option(
    "--truth",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --make-sample: write the injected defects and routing as JSON here.",
)
@click.option("--now", help="Judge 'in the future' against this ISO 8601 time.")
def analyze(
    extracts: tuple[Path, ...],
    html_out: Path | None,
    json_out: Path | None,
    sample_rows: int | None,
    seed: int,
    truth: Path | None,
    now: str | None,
) -> None:
    """What a Health Hub extract holds: volumes, codes, routing preview and data quality."""
    if sample_rows is not None:
        _make_sample(sample_rows, seed, truth)
        return
    if not extracts:
        raise InputError("give one or more extract files (CSV or NDJSON), or --make-sample N")
    clock, _ = _clock_and_ids(now)
    total = sum(path.stat().st_size for path in extracts)
    if sys.stderr.isatty():  # a bar in a log file or a pipe is only noise
        with click.progressbar(
            length=total, label="analysing", file=sys.stderr, show_eta=True
        ) as bar:
            report = analyze_files(extracts, now=clock.now(), progress=bar.update)
    else:
        report = analyze_files(extracts, now=clock.now())
    if json_out:
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    if html_out:
        html_out.write_text(render_html(report), "utf-8")
    click.echo(text_summary(report), nl=False)


def _make_sample(rows: int, seed: int, truth_out: Path | None) -> None:
    lines, truth = generate(rows, seed)
    for line in lines:
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
    if truth_out:
        truth_out.write_text(json.dumps(truth.to_dict(), indent=2) + "\n", "utf-8")


@main.group()
def certs() -> None:
    """Certificates: make an OCES3-shaped test PKI; show a certificate and when it expires."""


@certs.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@password_file_option(f"every .p12 file (default {DEFAULT_PASSWORD})")
def certs_init(directory: Path, password_file: Path | None) -> None:
    """Make a test PKI in DIRECTORY (new or empty): root and issuing CA, organisation
    certificates (good, EC, expired, not yet valid, revoked, wrong key usage, untrusted), a CRL,
    trust.pem and the manifest pki.json. For tests and demos only: keys are not encrypted in PEM
    (they are written mode 0600).
    """
    password = read_password(password_file)
    pki = build_test_pki(
        directory, SystemClock().now(), DEFAULT_PASSWORD if password is None else password
    )
    for entry in pki.entries.values():
        files = (entry.cert_path, entry.key_path, entry.p12_path)
        names = " ".join(path.name for path in files if path is not None)
        click.echo(f"{entry.name:<22} {entry.role:<16} {names}")
    click.echo(
        f"wrote {len(pki.files)} files to {directory}: trust bundle {pki.trust_path.name}, "
        f"CRL {pki.crl_path.name}, manifest {pki.manifest_path.name}"
    )


@certs.command("show")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--warn-days",
    type=click.IntRange(min=0),
    default=DEFAULT_WARN_DAYS,
    show_default=True,
    help="Warn (exit 1) when a certificate expires within this many days.",
)
@password_file_option(f"a .p12 file (default {DEFAULT_PASSWORD})")
@click.option("--now", help="Judge expiry at this ISO 8601 time instead of the clock.")
def certs_show(file: Path, warn_days: int, password_file: Path | None, now: str | None) -> None:
    """Show the certificates in FILE (PEM, DER or PKCS#12): subject, issuer, key, validity and
    days to expiry. Exit 1 when one is expired, not yet valid or expires within --warn-days.
    """
    at = _clock_and_ids(now)[0].now()
    password = read_password(password_file)
    certificates = load_certificates(file, DEFAULT_PASSWORD if password is None else password)
    if not certificates:
        raise InputError(f"{file}: no certificate")
    findings: list[Issue] = []
    for number, cert in enumerate(certificates, start=1):
        click.echo(f"{file} [{number}/{len(certificates)}]")
        for label, value in summarise(cert, at).lines():
            click.echo(f"  {label + ':':<12}{value}")
        issues = list(iter_expiry_issues(cert, at, warn_days, str(file)))
        for issue in issues:
            click.echo(f"  {issue}")
        findings.extend(issues)
    if findings:
        sys.exit(ExitCode.INVALID)


main.add_command(sign)
main.add_command(verify)
