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
