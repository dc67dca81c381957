"""Tables as SQLAlchemy Core sees them, for reads that must start fast.

`db.models` builds every ORM class and imports `sqlalchemy.orm`: about 0.1 s, a fifth of the
start-up budget of `python -m core current` (0.5 s for the whole process). A read that needs a
few columns of one row names them here instead, typed as in the model (a test holds each column
equal to the model's, so this is not a second schema).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from db.types import UTCDateTime

PCT = sa.Numeric(5, 2)

ALLOCATION_LOG = sa.table(
    "profit_allocation_log",
    sa.column("id", sa.Uuid), sa.column("status", sa.String(16)),
    sa.column("reinvestment_pct", PCT), sa.column("dao_pct", PCT), sa.column("lucky_pct", PCT),
    sa.column("creator_pct", PCT), sa.column("effective_from", UTCDateTime),
    sa.column("effective_until", UTCDateTime), sa.column("reasoning", sa.Text),
    sa.column("proposed_by", sa.String(16)), sa.column("reviewed_by", sa.String(64)),
)


def in_force(log: Any) -> tuple[sa.ColumnElement[bool], ...]:
    """The current row of the allocation log: active, its period still open (the unique index
    uq_profit_allocation_log_one_current allows one). `log` is the model class or
    `ALLOCATION_LOG.c`: the ORM and Core reads use the same condition."""
    return (log.status == "active", log.effective_until.is_(None))
