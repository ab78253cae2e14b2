"""The exception tree: one root, each class with its exit code, HTTP status and retry advice.

Exceptions are for conditions that stop an operation (unreadable file, bad configuration, a peer
that is down). Problems *in the data* are Issues, not exceptions: a bad record never raises.
Each class also inherits the closest stdlib type, so callers that catch `ValueError` or `OSError`
keep working. The CLI maps exceptions to exit codes in one place (`gateway.cli`).
"""

from __future__ import annotations


class ExitCode:
    """Process exit codes, one table for every command."""

    OK = 0
    INVALID = 1  # the input was read, and it is not valid
    USAGE = 2  # bad arguments, unreadable or missing files, I/O errors
    CONFIG = 3  # configuration or mapping tables are broken
    UNAVAILABLE = 4  # a peer or service could not be reached
    INTERNAL = 70  # a defect in labgw itself


class LabgwError(Exception):
    """Root of all labgw exceptions."""

    exit_code: int = ExitCode.INTERNAL
    http_status: int = 500
    retryable: bool = False


class UsageError(LabgwError, ValueError):
    """The caller asked for something that cannot be done as asked."""

    exit_code = ExitCode.USAGE
    http_status = 400


class InputError(LabgwError, OSError):
    """An input could not be read at all (missing, unreadable, wrong kind of file)."""

    exit_code = ExitCode.USAGE
    http_status = 400


class ConfigError(LabgwError, ValueError):
    """Configuration, a mapping table or a schema catalogue is missing or malformed."""

    exit_code = ExitCode.CONFIG


class UnavailableError(LabgwError, ConnectionError):
    """A peer or service did not answer; the operation may succeed later."""

    exit_code = ExitCode.UNAVAILABLE
    http_status = 503
    retryable = True


class InvalidMessageError(LabgwError, ValueError):
    """A message breaks a schema or a business rule; `issues` says where and why."""

    exit_code = ExitCode.INVALID
    http_status = 422

    def __init__(self, message: str, issues: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.issues = issues
