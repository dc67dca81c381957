"""Alembic migrations on both engines: an empty database at head matches the models exactly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from core.database import upgrade_database
from db import migrate, triggers
from db.engine import Database
from db.models import Base
from db.types import UTCDateTime

APP_TABLES = set(Base.metadata.tables)


def differences(db: Database) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "compare_server_default": True})
        return compare_metadata(context, Base.metadata)


def tables(db: Database) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def trigger_names(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        else:
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        return set(conn.scalars(sa.text(query)))


def downgrade(db: Database, target: str) -> None:
    config = migrate.alembic_config()
    with migrate.migrating(db) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, target)


def test_upgrading_an_empty_database_to_head_matches_the_models(blank_db):
    assert tables(blank_db) == set()
    assert migrate.current_revision(blank_db) is None
    revision = migrate.upgrade(blank_db)
    assert revision == migrate.head_revision()
    assert tables(blank_db) == APP_TABLES | {"alembic_version"}
    assert differences(blank_db) == []


def test_upgrading_one_revision_at_a_time_reaches_the_same_schema(blank_db):
    script = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert revisions[-1] == migrate.head_revision()
    for revision in revisions:
        assert migrate.upgrade(blank_db, revision) == revision
    assert differences(blank_db) == []


def test_every_check_constraint_of_the_models_is_in_the_migrated_database(blank_db):
    migrate.upgrade(blank_db)
    inspector = sa.inspect(blank_db.engine)
    for table in Base.metadata.sorted_tables:
        expected = {c.name for c in table.constraints if isinstance(c, sa.CheckConstraint)}
        found = {c["name"] for c in inspector.get_check_constraints(table.name)}
        assert expected <= found, (table.name, expected - found)


def expected_guards(dialect: str) -> set[str]:
    return {g.name for g in triggers.guards() if triggers.applies(g, dialect)}


def test_every_append_only_guard_is_installed_as_a_trigger(blank_db):
    migrate.upgrade(blank_db)
    assert expected_guards(blank_db.dialect) <= trigger_names(blank_db)
    assert {g.table for g in triggers.guards()} <= APP_TABLES


def test_overlapping_active_periods_are_refused_by_a_constraint_on_postgresql(blank_db):
    migrate.upgrade(blank_db)
    if blank_db.dialect != "postgresql":
        assert "profit_allocation_log_no_overlap_insert" in trigger_names(blank_db)
        return
    with blank_db.engine.connect() as connection:
        names = connection.exec_driver_sql(
            "SELECT conname FROM pg_constraint WHERE contype = 'x'").scalars().all()
    assert triggers.PG_NO_OVERLAP in names


def test_db_upgrade_twice_is_idempotent_and_seeds_the_default_only_once(blank_db):
    first = upgrade_database(blank_db)
    second = upgrade_database(blank_db)
    assert (first.revision, first.seeded_default) == (migrate.head_revision(), True)
    assert (second.revision, second.seeded_default) == (migrate.head_revision(), False)
    with blank_db.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM profit_allocation_log")) == 1
        assert conn.scalar(sa.text("SELECT count(*) FROM protocol_activity")) == 1
        assert conn.scalar(sa.text("SELECT count(*) FROM alembic_version")) == 1
    assert differences(blank_db) == []


def test_downgrading_to_base_removes_everything_and_upgrading_again_restores_it(blank_db):
    migrate.upgrade(blank_db)
    downgrade(blank_db, "base")
    assert tables(blank_db) <= {"alembic_version"}
    assert trigger_names(blank_db) == set()
    assert migrate.current_revision(blank_db) is None
    migrate.upgrade(blank_db)
    assert differences(blank_db) == []
    assert expected_guards(blank_db.dialect) <= trigger_names(blank_db)


def test_the_seeded_test_databases_are_at_head_too(db):
    assert migrate.current_revision(db) == migrate.head_revision()
    assert differences(db) == []


def test_0018_gives_the_snapshots_already_there_mainnet_keeps_their_macs_and_their_guards(
        blank_db, tmp_path):
    from core.record.audit import verify_record
    from core.voting.service import load_snapshot
    from tests.integration.voters import BLOCK, snapshot_csv

    upgrade_database(blank_db)
    load_snapshot(blank_db, snapshot_csv(tmp_path / "h.csv"), block=BLOCK)
    # Down to 0017 and up again: a row signed on chain 1 MACs as a row of 0017 did (CHAINED_LATER).
    downgrade(blank_db, "0017_voting")
    assert "chain_id" not in {c["name"] for c in sa.inspect(blank_db.engine).get_columns(
        "vote_snapshots")}
    migrate.upgrade(blank_db)
    assert differences(blank_db) == []
    with blank_db.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT chain_id FROM vote_snapshots")) == 1
    assert verify_record(blank_db).ok
    assert expected_guards(blank_db.dialect) <= trigger_names(blank_db)
    with pytest.raises(sa.exc.DatabaseError), blank_db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE vote_snapshots SET chain_id = 8453"))


def test_0018_is_not_taken_down_while_a_snapshot_is_on_another_chain(blank_db, tmp_path):
    from core.voting.service import load_snapshot
    from tests.integration.voters import BLOCK, snapshot_csv

    upgrade_database(blank_db)
    load_snapshot(blank_db, snapshot_csv(tmp_path / "h.csv"), block=BLOCK, chain_id=8453)
    with pytest.raises(RuntimeError, match="vote_snapshots: 1 snapshot"):
        downgrade(blank_db, "0017_voting")
    assert migrate.current_revision(blank_db) == migrate.head_revision()


BEFORE_THE_BATCH_MIGRATIONS = "0008_token_activity_rollup"  # 0009 and 0012 copy the log table


def test_a_database_whose_rows_refer_to_each_other_upgrades_through_the_table_copies(blank_db):
    """An install from before 0009 with a history: each proposal names the split it was based on,
    and a review names its proposal. Copying the log table (SQLite's batch mode) must keep them."""
    migrate.upgrade(blank_db, BEFORE_THE_BATCH_MIGRATIONS)
    log = sa.table("profit_allocation_log", sa.column("id", sa.Uuid),
                   sa.column("timestamp", UTCDateTime), sa.column("reinvestment_pct"),
                   sa.column("dao_pct"), sa.column("lucky_pct"), sa.column("creator_pct"),
                   sa.column("status"), sa.column("reasoning"), sa.column("confidence"),
                   sa.column("proposed_by"), sa.column("effective_from", UTCDateTime),
                   sa.column("based_on_id", sa.Uuid), sa.column("reviewed_by"),
                   sa.column("reviewed_at", UTCDateTime))
    reviews = sa.table("proposal_reviews", sa.column("id", sa.Uuid),
                       sa.column("proposal_id", sa.Uuid), sa.column("reviewer"), sa.column("decision"),
                       sa.column("reviewed_at", UTCDateTime))
    first, second, review = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    day = datetime(2026, 1, 1, tzinfo=UTC)
    with blank_db.engine.begin() as conn:
        conn.execute(sa.insert(log).values(
            id=first, timestamp=day, reinvestment_pct=80, dao_pct=15, lucky_pct=3, creator_pct=2,
            status="active", reasoning="the default", confidence=1, proposed_by="system",
            effective_from=day))
        conn.execute(sa.insert(log).values(
            id=second, timestamp=day + timedelta(days=1), reinvestment_pct=70, dao_pct=20,
            lucky_pct=5, creator_pct=5, status="rejected", reasoning="more for the DAO",
            confidence=0.5, proposed_by="manual", based_on_id=first, reviewed_by="gus",
            reviewed_at=day + timedelta(days=2)))
        conn.execute(sa.insert(reviews).values(id=review, proposal_id=second, reviewer="gus",
                                               decision="rejected",
                                               reviewed_at=day + timedelta(days=2)))

    upgrade_database(blank_db)

    assert migrate.current_revision(blank_db) == migrate.head_revision()
    with blank_db.engine.connect() as conn:
        based_on = conn.execute(sa.select(log.c.based_on_id).where(log.c.id == second)).scalar()
        assert based_on == first
        assert conn.execute(sa.select(reviews.c.proposal_id)).scalar() == second
    # And the references are enforced again afterwards: a review of no proposal is refused.
    with pytest.raises(sa.exc.IntegrityError), blank_db.engine.begin() as conn:
        conn.execute(sa.insert(reviews).values(id=uuid.uuid4(), proposal_id=uuid.uuid4(),
                                               reviewer="gus", decision="approved",
                                               reviewed_at=day + timedelta(days=3)))
