"""User-facing errors.

Every mistake a user can make (a bad file, box, checkpoint or config key) raises
:class:`AdvreconError` with one sentence naming the offending file/field and what is wrong.
The CLI turns it into a message on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations


class AdvreconError(Exception):
    """An error caused by user input (file, field, value), reported without a traceback."""

    exit_code: int = 2


class InputFileError(AdvreconError):
    """A data, annotation or checkpoint file is missing, unreadable or malformed."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ConfigError(AdvreconError):
    """An experiment config is invalid; the message names the key."""


class StorageError(AdvreconError):
    """Reading or writing a run's files failed (full disk, read-only folder, permissions).

    The message names the operation and the path: ``cannot write results to /x/results.csv:
    No space left on device``.
    """

    exit_code = 1

    def __init__(self, operation: str, path: object, reason: str) -> None:
        self.operation = operation
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot {operation} {self.path}: {reason}")

    @classmethod
    def from_os(cls, operation: str, path: object, exc: OSError) -> StorageError:
        """Wrap an :class:`OSError` (``strerror`` as the reason)."""
        return cls(operation, path, exc.strerror or str(exc))


class RunFolderBusyError(AdvreconError):
    """Another process holds the run folder's lock."""

    exit_code = 75  # EX_TEMPFAIL: try again once the other run has finished


class NonFiniteResultError(AdvreconError):
    """An attack produced NaN/Inf metrics; the batch was not saved."""

    exit_code = 1


class RunInterrupted(AdvreconError):
    """The run was stopped by SIGINT or SIGTERM (exit code 130)."""

    exit_code = 130
