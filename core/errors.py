"""Exceptions core raises for callers (CLI, dashboard) to turn into clear messages.

Each carries a list of human-readable problems, one per broken rule, naming the field.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base: a request core will not carry out. Nothing has been written."""

    exit_code = 3

    def __init__(self, *problems: str) -> None:
        self.problems = [p for p in problems if p] or ["request refused"]
        super().__init__("; ".join(self.problems))


class ValidationFailed(DomainError):
    """Input broke a validation rule."""


class Refused(DomainError):
    """A governance rule, a conflict or the current state does not allow it."""


class PermissionDenied(Refused):
    """The acting account lacks the role for this action."""


class NotFound(DomainError):
    exit_code = 4


class DatabaseUnavailable(DomainError):
    """The database cannot be used as it is (not a refusal of the request: nothing was decided)."""

    exit_code = 1


class NotAuthenticated(DomainError):
    """No valid credentials (an API token missing, unknown, expired, revoked or its account
    disabled). Says nothing about which: a guesser learns nothing."""


class Throttled(Refused):
    """Too many failed attempts from one client: try again after `retry_after` seconds."""

    def __init__(self, retry_after: float, *problems: str) -> None:
        super().__init__(*problems)
        self.retry_after = retry_after
