"""Reads of experiments for the charts of other pages: where each block that ran lay in time and
which arm it ran. Apart from the services (`service`), which load and analyse one experiment:
a chart of the whole history needs only the switches, one query for all of them.

Only blocks the schedule switched to are returned (their arm is in the allocation log for all to
see), never a block still to come: the arms of those are the secret the published hash keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from core.base.sessions import reading
from core.experiments.design import CONTROL, parse_arms
from db.engine import Database
from db.models import Experiment, ExperimentSwitch


@dataclass(frozen=True)
class BlockSpan:
    """One block that ran: [starts_at, ends_at) (cut where a stopped experiment ended), its arm
    (0 is the control) and that arm's split, and the allocation-log row its switch wrote (None
    when the arm was the live split already)."""

    experiment_id: str
    index: int
    arm: int
    split_label: str
    starts_at: datetime
    ends_at: datetime
    allocation_id: str | None

    @property
    def is_control(self) -> bool:
        return self.arm == CONTROL

    def label(self) -> str:
        """How a chart names it: `70/18/8/4 (arm 1)`, `80/15/3/2 (control)`."""
        return f"{self.split_label} ({'control' if self.is_control else f'arm {self.arm}'})"


def block_spans(db: Database) -> list[BlockSpan]:
    """Every block any experiment has switched to, oldest first."""
    query = (sa.select(ExperimentSwitch.experiment_id, ExperimentSwitch.block_index,
                       ExperimentSwitch.arm, ExperimentSwitch.allocation_id, Experiment.arms,
                       Experiment.starts_at, Experiment.block_hours, Experiment.ended_at)
             .join(Experiment, Experiment.id == ExperimentSwitch.experiment_id)
             # RESTORE_BLOCK (-1), the control put back at the end, is no block of the design.
             .where(ExperimentSwitch.block_index >= 0)
             .order_by(Experiment.starts_at, ExperimentSwitch.block_index))
    with reading(db) as session:
        rows = session.execute(query).all()
    spans = []
    for row in rows:
        length = timedelta(hours=row.block_hours)
        start = row.starts_at + row.block_index * length
        end = start + length
        if row.ended_at is not None:
            end = max(start, min(end, row.ended_at))
        spans.append(BlockSpan(str(row.experiment_id), row.block_index, row.arm,
                               parse_arms(row.arms)[row.arm].label(), start, end,
                               str(row.allocation_id) if row.allocation_id else None))
    return spans

