"""Opening the database: migrations to head and the default split on an empty log.

Every command opens the database here, so the common path (the schema already at head) imports
only SQLAlchemy Core: the models and the activity log, which seeding and granting write through,
are imported inside those functions (together about 0.15 s of every command's start-up).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from core.allocation.split import DEFAULT_SPLIT
from core.base.errors import (DatabaseBusy, DatabaseUnavailable, InvalidDatabaseUrl, NotFound,
                              Refused, ValidationFailed)
from core.base.sessions import database_failures, reason_of, translate, writing
from db import migrate
from db.engine import Database, open_database
from settings import database_url, get_settings

DEFAULT_REASONING = "Default 80/15/3/2 split (the hardcoded allocation this system replaces)"


@dataclass(frozen=True)
class UpgradeResult:
    revision: str
    seeded_default: bool

    def as_json(self) -> dict[str, object]:
        return {"revision": self.revision, "seeded_default": self.seeded_default}


def seed_default_allocation(db: Database) -> bool:
    """On a log with no rows at all, make 80/15/3/2 the active split. Idempotent."""
    from core.base.locking import serialize_writes
    from core.record.activity import record_activity
    from db.models import AllocationLog
    from db.types import utcnow

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
    from alembic.util import exc as alembic_errors  # only here: importing Alembic is slow

    from core.record.audit import sign_existing

    try:
        # Revision 0013 signs the rows already there with the audit key, which db/ cannot read.
        revision = migrate.upgrade(db, attributes={"audit_signer": sign_existing})
    except alembic_errors.CommandError as error:
        # A revision this program does not know: a newer version wrote the schema.
        raise DatabaseUnavailable(f"database: schema revision unknown to this version ({error})") from None
    except sa.exc.DBAPIError as error:
        failure = translate(error, writing=True)
        if isinstance(failure, DatabaseBusy):
            raise failure from error  # another process holds the lock: try again
        hint = ""
        if "permission denied" in reason_of(error) or "must be owner" in reason_of(error):
            hint = ("; this role may not change the schema: run `python -m core --db OWNER_URL "
                    "db upgrade` as the schema's owner, or set MIGRATION_DATABASE_URL")
        raise DatabaseUnavailable(
            f"database: the schema upgrade failed ({reason_of(error)}){hint}") from error
    return UpgradeResult(revision, seed_default_allocation(db) if seed else False)


def grant_app_role(db: Database, role: str, *, by: str = "operator") -> list[str]:
    """Give the PostgreSQL role `role` what the application needs and nothing more (see
    db/roles.py); run as the schema's owner. Idempotent; returns the statements run."""
    from core.record.activity import record_activity
    from db import roles

    role = role.strip()
    if db.dialect != "postgresql":
        raise Refused("database: roles exist only on PostgreSQL; SQLite has no app role to grant")
    if not roles.ROLE_NAME.match(role):
        raise ValidationFailed(f"role: {role[:40]!r} must be a lower-case PostgreSQL name "
                               "(a-z, 0-9, '_', at most 63 characters)")
    statements = roles.grant_statements(role)
    with writing(db) as session:
        if not session.scalar(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
            raise NotFound(f"role: no PostgreSQL role named {role!r} (CREATE ROLE it first)")
        owner = session.scalar(sa.text("SELECT current_user"))
        if role == owner:
            raise Refused(f"role: {role} is the role running this (the owner); name the app's role")
        for statement in statements:
            session.execute(sa.text(statement))
        record_activity(session, "database_role_granted",
                        f"{by} granted the app role {role} its privileges (no TRUNCATE, no DDL)",
                        {"role": role, "by": by, "owner": owner})
    return statements


def owner_url(url: str) -> str:
    """The URL to migrate the database at `url` with: MIGRATION_DATABASE_URL when it is set and
    names the same database (same host, port and name), else `url` itself."""
    migration = get_settings().migration_database_url
    if not migration:
        return url
    try:
        mine, theirs = sa.make_url(url), sa.make_url(migration)
    except sa.exc.ArgumentError as error:
        raise InvalidDatabaseUrl(f"database: not a usable database URL ({error})") from None
    same = (mine.get_backend_name(), mine.host, mine.port, mine.database) == (
        theirs.get_backend_name(), theirs.host, theirs.port, theirs.database)
    return migration if same else url


def _open(url: str) -> Database:
    try:
        return open_database(url)
    except ImportError as error:
        raise DatabaseUnavailable(f"database: no driver installed for this URL ({error.name})") from None
    except sa.exc.ArgumentError as error:
        raise InvalidDatabaseUrl(f"database: not a usable database URL ({error})") from None
    except OSError as error:  # the SQLite file's folder cannot be made
        raise DatabaseUnavailable(f"database: cannot be reached ({error})") from None


def connect(url: str | None = None, *, upgrade: bool = True, seed: bool = True) -> Database:
    """Open the configured database; bring it to the current schema unless told not to (and seed
    the default split on an empty log unless `seed` is off: the dashboard loads its demo first).

    With MIGRATION_DATABASE_URL set, the upgrade runs as that (owner) role, which then grants
    the app's role (the user of `url`) its privileges on whatever the upgrade added."""
    url = url or database_url()
    db = _open(url)
    with database_failures(writing=False):
        behind = upgrade and migrate.current_revision(db) != migrate.head_revision()
    if not behind:
        return db
    migration_url = owner_url(url)
    if migration_url == url:
        upgrade_database(db, seed=seed)
        return db
    owner = _open(migration_url)
    try:
        upgrade_database(owner, seed=seed)
        app_role = sa.make_url(url).username
        if owner.dialect == "postgresql" and app_role and app_role != sa.make_url(migration_url).username:
            grant_app_role(owner, app_role, by="system:upgrade")
    finally:
        owner.engine.dispose()
    return db


def schema_revision(db: Database) -> str:
    """The database's schema revision (for health checks); DatabaseUnavailable when it cannot be
    reached or holds no schema yet."""
    with database_failures(writing=False):
        revision = migrate.current_revision(db)
    if revision is None:
        raise DatabaseUnavailable("database: no schema yet (run `python -m core db upgrade`)")
    return revision
