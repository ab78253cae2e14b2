"""The certification evidence bundle of a conformance run: one folder a certifier can keep.

    report.junit.xml  report.json  report.html      the reports of the run
    inputs/<suite>/<case id>/<name>                  what each case read or sent
    outputs/<suite>/<case id>/<name>                 what the target produced or answered
    manifest.json                                    every file above: SHA-256 and size;
                                                     labgw version, target, times, counts
    manifest.json.jws                                with --sign: a detached JWS over
                                                     manifest.json (RFC 7515, x5c chain)

The manifest pins every byte of the bundle and the JWS pins the manifest, so one signature
vouches for the whole folder; `verify_evidence` checks both. The signature is labgw's one JWS
(`gateway.security.jws.sign_detached`), made with the signing identity of a service
configuration, whose key password comes from a file or the environment, never the command line.

Names in the bundle come from suites and vendors' files: each is cut to its last component and to
a safe alphabet, so nothing is written outside the folder. A folder that already holds something
other than an earlier evidence bundle is refused: runs are never silently mixed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography import x509

from gateway import __version__
from gateway.conformance.reports import counts
from gateway.conformance.result import CaseResult
from gateway.conformance.run import passed
from gateway.errors import InputError, UsageError
from gateway.issues import Issue
from gateway.security.jws import VerifiedDetached, sign_detached, verify_detached
from gateway.security.trust import TrustStore

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.jws"
FORMAT = "labgw-conformance-evidence/1"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 120


def safe_name(name: str) -> str:
    """One path component that cannot leave its folder: the last part of `name` (either slash),
    characters outside `A-Za-z0-9._-` as `_`, no leading dot, at most 120 characters."""
    last = re.split(r"[\\/]", name)[-1]
    cleaned = _UNSAFE.sub("_", last).lstrip(".")[:_MAX_NAME]
    return cleaned or "_"


def write_evidence(
    folder: Path, results: list[CaseResult], reports: dict[str, bytes], sign: Path | None
) -> None:
    """Write the bundle into `folder` (made if missing; an earlier bundle there is replaced).

    Args:
        folder: the bundle's folder.
        results: the run's case results (their observations give inputs and outputs).
        reports: report file name → bytes (report.junit.xml, report.json, report.html).
        sign: a service configuration (TOML) whose signing identity signs the manifest.

    Raises:
        UsageError: the folder holds files that are not an earlier evidence bundle.
        ConfigError, InputError: the configuration or its identity cannot be loaded.
    """
    identity = None
    if sign is not None:  # before anything is written: a bad key leaves no half bundle
        from gateway.security.keys import load_identity
        from gateway.service.config import load_service_config

        config = load_service_config(sign)
        identity = load_identity(config.identity, config.identity_key, config.password)
    files = _files(results, reports)
    _clear(folder)
    entries = []
    for relative, data in files.items():
        write_file(folder / relative, data)
        entries.append(
            {"path": relative, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        )
    created = datetime.now(UTC)
    manifest = {
        "format": FORMAT,
        "tool": "labgw conformance",
        "labgw_version": __version__,
        "target": results[0].target if results else None,
        "started": _started(reports),
        "created": created.isoformat(timespec="seconds"),
        "verdict": "PASS" if passed(results) else "FAIL",
        "counts": counts(results),
        "files": entries,
    }
    data = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    write_file(folder / MANIFEST, data)
    if identity is not None:
        write_file(
            folder / SIGNATURE, (sign_detached(data, identity, created) + "\n").encode("ascii")
        )


def _files(results: list[CaseResult], reports: dict[str, bytes]) -> dict[str, bytes]:
    """Bundle path (POSIX, relative) → bytes, every name made safe and unique in its folder."""
    files: dict[str, bytes] = {}

    def put(folder: PurePosixPath, name: str, data: bytes) -> None:
        base = safe_name(name)
        stem, dot, suffix = base.partition(".")
        candidate, number = base, 1
        while str(folder / candidate) in files or candidate in (MANIFEST, SIGNATURE):
            number += 1
            candidate = f"{stem}-{number}{dot}{suffix}"
        files[str(folder / candidate)] = data

    for name, data in reports.items():
        put(PurePosixPath(), name, data)
    for result in results:
        where = PurePosixPath(safe_name(result.case.suite), safe_name(result.case.id))
        for kind, named in (
            ("inputs", result.observation.inputs),
            ("outputs", result.observation.outputs),
        ):
            for name, data in named.items():
                put(PurePosixPath(kind) / where, name, data)
    return files


def _started(reports: dict[str, bytes]) -> str | None:
    """The run's start as report.json has it (the one clock of the run)."""
    try:
        value = json.loads(reports["report.json"])["started"]
    except (KeyError, TypeError, ValueError):
        return None
    return value if isinstance(value, str) else None


def _clear(folder: Path) -> None:
    """Make `folder` empty: missing or empty is fine, an earlier bundle is removed, and anything
    else is refused before one byte is touched."""
    if not check_folder(folder):
        return
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def check_folder(folder: Path) -> bool:
    """Whether `folder` holds an earlier bundle to replace (False: missing or empty).

    Called before a run too, so a refused folder costs no run.

    Raises:
        UsageError: the folder is a file, or holds anything but an earlier evidence bundle.
    """
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--evidence {folder}: not a folder")
    if not folder.exists() or not any(folder.iterdir()):
        return False
    listed = _listed(folder)
    if listed is None:
        raise UsageError(
            f"--evidence {folder}: the folder is not empty and holds no evidence bundle; "
            "give an empty or new folder (runs are never mixed)"
        )
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()}
    strangers = sorted(present - listed - {MANIFEST, SIGNATURE})
    if strangers:
        raise UsageError(
            f"--evidence {folder}: an earlier evidence bundle, but also {strangers[0]} "
            f"(and {len(strangers) - 1} more) that it does not list; not replacing it"
        )
    return True


def _listed(folder: Path) -> set[str] | None:
    """The paths an earlier bundle's manifest lists; None when there is no such manifest."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return None
    return {
        str(entry.get("path")) for entry in manifest.get("files", []) if isinstance(entry, dict)
    }


def write_file(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from exc


@dataclass(slots=True)
class EvidenceCheck:
    """What `verify_evidence` found: problems (empty: intact) and, when signed, who signed."""

    manifest: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    signed: VerifiedDetached | None = None
    issues: tuple[Issue, ...] = ()  # the signature's refusals or warnings (JWS-*, TRUST-*)

    @property
    def ok(self) -> bool:
        return not self.problems and not any(issue.blocking for issue in self.issues)

    @property
    def signer(self) -> x509.Certificate | None:
        return self.signed.signer if self.signed else None


def verify_evidence(
    folder: Path,
    trust: TrustStore | None,
    at: datetime | None = None,
    require_signature: bool = True,
) -> EvidenceCheck:
    """Check a bundle: every listed file present with its SHA-256 and size, nothing unlisted,
    and (when signed, or required to be) the detached JWS over manifest.json.

    Args:
        folder: the bundle.
        trust: the pinned roots the signer must chain to; None checks the signature only
            (a JWS-UNTRUSTED warning: anyone can make a certificate).
        at: when the signer's certificate must be valid; None: the signed signing time.
        require_signature: a missing manifest.json.jws is a problem.
    """
    check = EvidenceCheck()
    try:
        data = (folder / MANIFEST).read_bytes()
        manifest = json.loads(data)
    except (OSError, ValueError) as exc:
        check.problems.append(f"{MANIFEST}: cannot read it ({exc})")
        return check
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        check.problems.append(f"{MANIFEST}: not a labgw evidence manifest ({FORMAT})")
        return check
    check.manifest = manifest
    check.problems += _file_problems(folder, manifest)
    try:
        compact = (folder / SIGNATURE).read_text("ascii")
    except FileNotFoundError:
        if require_signature:
            check.problems.append(f"{SIGNATURE}: missing; the bundle is not signed")
        return check
    except (OSError, ValueError) as exc:
        check.problems.append(f"{SIGNATURE}: cannot read it ({exc})")
        return check
    found = verify_detached(compact, data, trust, at, location=SIGNATURE)
    if isinstance(found, VerifiedDetached):
        check.signed, check.issues = found, found.warnings
    else:
        check.issues = found
    return check


def _file_problems(folder: Path, manifest: dict[str, Any]) -> list[str]:
    problems = []
    listed = set()
    root = folder.resolve()
    for entry in manifest.get("files", []):
        name = str(entry.get("path")) if isinstance(entry, dict) else repr(entry)
        listed.add(name)
        path = (folder / name).resolve()
        if not isinstance(entry, dict) or not path.is_relative_to(root):
            problems.append(f"{name}: not a file of the bundle")
            continue
        try:
            data = path.read_bytes()
        except OSError:
            problems.append(f"{name}: listed, but missing")
            continue
        if len(data) != entry.get("bytes") or hashlib.sha256(data).hexdigest() != entry.get(
            "sha256"
        ):
            problems.append(f"{name}: its SHA-256 or size differs from the manifest")
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()}
    for name in sorted(present - listed - {MANIFEST, SIGNATURE}):
        problems.append(f"{name}: in the folder, but not in the manifest")
    return problems
