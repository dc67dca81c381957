"""Opening the database: migrations to head and the default split on an empty log."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from alembic.util import exc as alembic_errors

from core.activity import record_activity
from core.errors import DatabaseUnavailable
from core.locking import serialize_writes
from core.split import DEFAULT_SPLIT
from settings import get_settings
from db import migrate
from db.engine import Database, open_database
from db.models import AllocationLog
from db.types import utcnow

DEFAULT_REASONING = "Default 80/15/3/2 split (the hardcoded allocation this system replaces)"


@dataclass(frozen=True)
class UpgradeResult:
    revision: str
    seeded_default: bool

    def as_json(self) -> dict[str, object]:
        return {"revision": self.revision, "seeded_default": self.seeded_default}


def seed_default_allocation(db: Database) -> bool:
    """On a log with no rows at all, make 80/15/3/2 the active split. Idempotent."""
    with db.sessions.begin() as session:
        serialize_writes(session)  # two first starts at once seed one default, not two
        if session.scalar(sa.select(sa.func.count()).select_from(AllocationLog)):
            return False
        now = utcnow()
        row = AllocationLog(
            reinvestment_pct=DEFAULT_SPLIT.reinvestment, dao_pct=DEFAULT_SPLIT.dao,
            lucky_pct=DEFAULT_SPLIT.lucky, creator_pct=DEFAULT_SPLIT.creator, status="active",
            reasoning=DEFAULT_REASONING, confidence=1, input_metrics={}, proposed_by="system",
            proposer_username="system", timestamp=now, effective_from=now)
        session.add(row)
        session.flush()
        record_activity(session, "allocation_activated", "Default split 80/15/3/2 seeded as active",
                        {"allocation_id": row.id, "split": DEFAULT_SPLIT.as_json(), "by": "system"})
        return True


def upgrade_database(db: Database) -> UpgradeResult:
    """Migrate to head (one transaction) and seed the default split on an empty log."""
    try:
        revision = migrate.upgrade(db)
    except alembic_errors.CommandError as error:
        # A revision this program does not know: a newer version wrote the schema.
        raise DatabaseUnavailable(f"database: schema revision unknown to this version ({error})") from None
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as error:
        first_line = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise DatabaseUnavailable(f"database: the schema upgrade failed ({first_line})") from None
    return UpgradeResult(revision, seed_default_allocation(db))


def connect(url: str | None = None, *, upgrade: bool = True) -> Database:
    """Open the configured database; bring it to the current schema unless told not to."""
    url = url or get_settings().database_url
    try:
        db = open_database(url)
    except ImportError as error:
        raise DatabaseUnavailable(f"database: no driver installed for this URL ({error.name})") from None
    if upgrade and migrate.current_revision(db) != migrate.head_revision():
        upgrade_database(db)
    return db



def _current_revision(db: Database) -> str | None:
    try:
        return migrate.current_revision(db)
    except sa.exc.OperationalError as error:
        first_line = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise DatabaseUnavailable(f"database: cannot be reached ({first_line})") from None


def schema_revision(db: Database) -> str:
    """The database's schema revision; DatabaseUnavailable when it cannot be reached."""
    revision = _current_revision(db)
    if revision is None:
        raise DatabaseUnavailable("database: no schema yet (run `python -m core db upgrade`)")
    return revision
