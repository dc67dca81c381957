"""Exceptions core raises for callers (CLI, dashboard, API) to turn into clear messages.

Each carries a list of human-readable problems, one per broken rule, naming the field. Core
translates database failures into these once (`core.base.sessions`); each entry point maps them to
its medium in one module (`cli/errors.py`: exit codes, `ui/feedback.py`: page messages).
"""

from __future__ import annotations


class DomainError(Exception):
    """Base: a request core will not carry out. Nothing has been written."""

    def __init__(self, *problems: str) -> None:
        self.problems = [p for p in problems if p] or ["request refused"]
        super().__init__("; ".join(self.problems))


class ValidationFailed(DomainError):
    """Input broke a validation rule."""


class Refused(DomainError):
    """A governance rule, a conflict or the current state does not allow it."""


class PermissionDenied(Refused):
    """The acting account lacks the role for this action."""


class Conflict(Refused):
    """The database refused the change (a constraint, a guard trigger, a value its column cannot
    hold); the transaction was rolled back."""

    reason = ""  # the database's own first line, for media that phrase their own message


class NotFound(DomainError):
    """What the request names does not exist."""


class DatabaseFailure(DomainError):
    """The database could not do what was asked. Not a refusal of the request: nothing was
    decided, and the same request may succeed later."""

    reason = ""  # the driver's first line, for media that phrase their own message


class DatabaseUnavailable(DatabaseFailure):
    """The database cannot be used as it is: not reached, no driver, an unknown schema."""


class InvalidDatabaseUrl(DatabaseUnavailable):
    """The configured URL is not a database URL at all (bad usage rather than an outage)."""


class KeyUnavailable(DatabaseUnavailable):
    """The product's own key, kept outside the database (core.base.keys), cannot be read or made,
    or a secret sealed with it cannot be opened: nothing can be recorded or checked."""


class DatabaseBusy(DatabaseFailure):
    """Another writer held the lock for longer than we wait (SQLite's "database is locked",
    PostgreSQL's lock timeouts, serialization failures and deadlocks): try again."""


class ReadFailed(DatabaseFailure):
    """The database was there but a read failed (e.g. an aggregate out of its type's range)."""


class NotAuthenticated(DomainError):
    """No valid credentials (an API token missing, unknown, expired, revoked or its account
    disabled). Says nothing about which: a guesser learns nothing."""


class Busy(DomainError):
    """Work the server does one at a time is under way for another request: nothing was decided;
    try again after `retry_after` seconds."""

    def __init__(self, retry_after: float, *problems: str) -> None:
        super().__init__(*problems)
        self.retry_after = retry_after


class Throttled(Refused):
    """Too many failed attempts from one client: try again after `retry_after` seconds."""

    def __init__(self, retry_after: float, *problems: str) -> None:
        super().__init__(*problems)
        self.retry_after = retry_after
