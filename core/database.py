"""Opening the database: migrations to head and the default split on an empty log."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from alembic.util import exc as alembic_errors

from core.activity import record_activity
from core.errors import DatabaseBusy, DatabaseUnavailable, InvalidDatabaseUrl
from core.locking import serialize_writes
from core.sessions import database_failures, reason_of, translate, writing
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
    with writing(db) as session:
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


def upgrade_database(db: Database, *, seed: bool = True) -> UpgradeResult:
    """Migrate to head (one transaction) and seed the default split on an empty log (unless
    `seed` is off: the dashboard loads the demo first, whose last approved split is current)."""
    try:
        revision = migrate.upgrade(db)
    except alembic_errors.CommandError as error:
        # A revision this program does not know: a newer version wrote the schema.
        raise DatabaseUnavailable(f"database: schema revision unknown to this version ({error})") from None
    except sa.exc.DBAPIError as error:
        failure = translate(error, writing=True)
        if isinstance(failure, DatabaseBusy):
            raise failure from error  # another process holds the lock: try again
        raise DatabaseUnavailable(f"database: the schema upgrade failed ({reason_of(error)})") from error
    return UpgradeResult(revision, seed_default_allocation(db) if seed else False)


def connect(url: str | None = None, *, upgrade: bool = True, seed: bool = True) -> Database:
    """Open the configured database; bring it to the current schema unless told not to (and seed
    the default split on an empty log unless told not to)."""
    url = url or get_settings().database_url
    try:
        db = open_database(url)
    except ImportError as error:
        raise DatabaseUnavailable(f"database: no driver installed for this URL ({error.name})") from None
    except sa.exc.ArgumentError as error:
        raise InvalidDatabaseUrl(f"database: not a usable database URL ({error})") from None
    except OSError as error:  # the SQLite file's folder cannot be made
        raise DatabaseUnavailable(f"database: cannot be reached ({error})") from None
    with database_failures(writing=False):
        behind = upgrade and migrate.current_revision(db) != migrate.head_revision()
    if behind:
        upgrade_database(db, seed=seed)
    return db
