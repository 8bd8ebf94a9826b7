"""The one error type of retainkit: a message and a hint, caught once in the CLI (SPEC §7)."""

from __future__ import annotations


class RetainkitError(Exception):
    """A problem with the user's input or options.

    ``message`` names what is wrong (file, column, row, value where known); ``hint`` says
    what to do about it. The CLI prints both on one line and exits with status 2.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message
