"""`labgw sign` and `labgw verify`: the signing shell around the pure signers and verifiers.

The profile follows the file: XML payloads travel in a DGWS envelope, FHIR Bundles carry a JWS
(DESIGN §6). Keys and certificates load once per process (`gateway.security.keys`); the trust
store is pinned by the operator (`--trust`, `--crl`). A key's password comes from a file
(`--password-file`) or `$LABGW_PKCS12_PASSWORD`, never from the command line, where every user's
process listing and the shell's history would show it. Exit codes: 0 signed / verified,
1 refused, 2 usage or I/O.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click

from gateway.delivery.seal import sender_reference
from gateway.errors import ExitCode, InputError
from gateway.issues import Issue
from gateway.report import operation_outcome
from gateway.security.dgws import Signer, build_envelope, make_id_card
from gateway.security.dgws_verify import VerifyPolicy, verify_envelope
from gateway.security.jws import VerifiedBundle, sign_bundle, verify_bundle
from gateway.security.keys import load_identity
from gateway.security.trust import TrustStore

F = TypeVar("F", bound=Callable[..., object])
PASSWORD_ENV = "LABGW_PKCS12_PASSWORD"


def password_file_option(what: str) -> Callable[[F], F]:
    """`--password-file`: the password of `what`, from a file (or `$LABGW_PKCS12_PASSWORD`)."""
    return click.option(
        "--password-file",
        type=click.Path(path_type=Path, dir_okay=False),
        help=f"File holding the password of {what} (or ${PASSWORD_ENV}).",
    )


def read_password(file: Path | None) -> str | None:
    """The password from `file` (surrounding whitespace stripped), else from the environment;
    None when neither gives one.

    Raises:
        InputError: the file cannot be read.
    """
    if file is None:
        return os.environ.get(PASSWORD_ENV)
    try:
        return file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}") from exc


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc


def _is_json(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {text!r}", param_hint="--now") from None
    if moment.tzinfo is None:
        raise click.BadParameter("give an offset, e.g. +00:00", param_hint="--now")
    return moment


@click.command()
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--cert",
    "cert",
    required=True,
    type=click.Path(path_type=Path),
    help="Certificate chain (PEM, leaf first) or PKCS#12 (.p12) with the key.",
)
@click.option(
    "--key",
    "key",
    type=click.Path(path_type=Path),
    help="PEM private key, when it is not in --cert.",
)
@password_file_option("the PKCS#12 file or the key")
@click.option(
    "--profile",
    type=click.Choice(["dgws", "fhir"]),
    help="Default: fhir for a JSON Bundle, dgws for XML.",
)
@click.option("--message-id", help="DGWS Linking/MessageID; default: a new UUID.")
@click.option("--sha1", is_flag=True, help="DGWS with SHA-1, for a legacy receiver only.")
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path))
@click.option("--now", help="Signing time (ISO 8601 with offset); default: now.")
def sign(
    file: Path,
    cert: Path,
    key: Path | None,
    password_file: Path | None,
    profile: str | None,
    message_id: str | None,
    sha1: bool,
    out: Path,
    now: str | None,
) -> None:
    """Sign a MedCom message: DGWS envelope (XML) or Bundle.signature JWS (FHIR)."""
    data = _read(file)
    identity = load_identity(cert, key, read_password(password_file))
    moment = _moment(now)
    profile = profile or ("fhir" if _is_json(data) else "dgws")
    if profile == "fhir":
        signed = sign_bundle(data, identity, sender_reference(data), moment)
    else:
        signer = Signer.of(identity, sha1=sha1)
        signed = build_envelope(
            data, make_id_card(signer, moment), signer, message_id or str(uuid.uuid4()), moment
        )
    try:
        out.write_bytes(signed)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from exc
    click.echo(f"{out}: signed ({profile}) by {identity.certificate.subject.rfc4514_string()}")


@click.command()
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--trust",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="Pinned roots and issuing CAs (PEM bundle).",
)
@click.option(
    "--crl",
    "crls",
    multiple=True,
    type=click.Path(path_type=Path, exists=True),
    help="A CRL to check revocation against (repeatable).",
)
@click.option("--allow-sha1", is_flag=True, help="Accept SHA-1 (legacy DGWS senders only).")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--now", help="Verification time (ISO 8601 with offset); default: now.")
def verify(
    file: Path, trust: Path, crls: tuple[Path, ...], allow_sha1: bool, fmt: str, now: str | None
) -> None:
    """Verify a signed MedCom message against a pinned trust store; exit 1 when refused."""
    data = _read(file)
    store = TrustStore.from_files(trust, crls)
    moment = _moment(now)
    if _is_json(data):
        outcome = verify_bundle(data, store, None)
        if isinstance(outcome, VerifiedBundle):
            issues: tuple[Issue, ...] = tuple(outcome.warnings)
            what = f"signed by {outcome.signer.subject.rfc4514_string()}"
        else:
            issues, what = outcome, ""
    else:
        result = verify_envelope(
            data,
            now=moment,
            trust=store,
            source=str(file),
            policy=VerifyPolicy(allow_sha1=allow_sha1),
        )
        issues = result.issues
        what = (
            f"signed by {result.envelope.signer.subject.rfc4514_string()}, message "
            f"{result.envelope.message_id}"
            if result.envelope
            else ""
        )
    valid = bool(what) and not any(issue.blocking for issue in issues)
    if fmt == "json":
        click.echo(
            json.dumps(
                {"file": str(file), "valid": valid, "outcome": operation_outcome(issues)}, indent=2
            )
        )
    else:
        click.echo(f"{file}: {'verified, ' + what if valid else 'REFUSED'}")
        for issue in issues:
            click.echo(f"  {issue}")
    if not valid:
        sys.exit(ExitCode.INVALID)
