"""Platform data bounded: token prices, volumes, treasury balances and daily counts have upper
limits (db/limits.py), so no row can overflow the metrics' aggregates, whoever writes it.

Rows already beyond a limit stop the upgrade with a message saying which and how many: they
are the platform's own data, not ours to change or delete.

Revision ID: 0007
Revises: 0006_append_only_everywhere
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.limits import (MAX_DAILY_COUNT, MAX_TOKEN_PRICE_USD, MAX_TOKEN_VOLUME_USD,
                       MAX_TREASURY_BALANCE_USD)

revision = '0007'
down_revision = '0006_append_only_everywhere'
branch_labels = None
depends_on = None

COUNTS = ("wallet_connections", "trades_count", "page_views")
# table -> [(constraint name, condition)]; the naming convention adds "ck_<table>_".
CHECKS = {
    "tokens": [("price_bounded", f"price <= {MAX_TOKEN_PRICE_USD}"),
               ("volume_bounded", f"volume_24h <= {MAX_TOKEN_VOLUME_USD}")],
    "engagement_daily": [(f"{c}_bounded", f"{c} <= {MAX_DAILY_COUNT}") for c in COUNTS],
    "dao_treasury_snapshots": [("balance_bounded",
                                f"CAST(balance_usd AS NUMERIC) <= {MAX_TREASURY_BALANCE_USD}")],
}


def _refuse_rows_beyond_the_limits() -> None:
    bind = op.get_bind()
    problems = []
    for table, checks in CHECKS.items():
        for _, condition in checks:
            # NOT (condition) is NULL-safe enough here: the columns are NOT NULL.
            count = bind.scalar(sa.text(f"SELECT count(*) FROM {table} WHERE NOT ({condition})"))
            if count:
                problems.append(f"{table}: {count} row(s) break {condition}")
    if problems:
        raise RuntimeError("platform data beyond the limits a real platform can hold; correct or "
                           "delete these rows, then upgrade again: " + "; ".join(problems))


def upgrade() -> None:
    _refuse_rows_beyond_the_limits()
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, condition in checks:
                batch_op.create_check_constraint(name, condition)


def downgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _ in checks:
                batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
