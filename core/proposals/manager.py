"""The seed's `AllocationManager`, in Python names, bound to one database.

A thin facade over the service functions, for callers that want the seed's shape
(`create_allocation_manager(db).get_current_allocation()`); each method is one service call.
"""

from __future__ import annotations

from typing import Any

from core.allocation.money import Amounts, calculate_amounts
from core.allocation.records import AllocationRecord, CurrentAllocation, PendingProposal
from core.allocation.split import Split
from core.allocation.validation import ProposalInput, ValidationResult
from core.proposals import lifecycle
from db.engine import Database
from settings import get_settings


class AllocationManager:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get_current_allocation(self) -> CurrentAllocation:
        return lifecycle.get_current_allocation(self.db)

    def calculate_amounts(self, profit: Any, split: Split | None = None) -> Amounts:
        split = split or self.get_current_allocation().split
        return calculate_amounts(profit, split, get_settings().minor_unit)

    def propose_allocation(self, proposal: ProposalInput, by: str | None = None) -> str:
        return lifecycle.propose_allocation(self.db, proposal, by=by).proposal_id

    def review_proposal(self, proposal_id: str, decision: str, by: str,
                        notes: str | None = None) -> lifecycle.ReviewOutcome:
        return lifecycle.review_proposal(self.db, proposal_id, decision, by=by, notes=notes)

    def get_allocation_history(self, limit: int | None = None) -> list[AllocationRecord]:
        return lifecycle.get_allocation_history(self.db, limit)

    def get_pending_proposals(self) -> list[PendingProposal]:
        return lifecycle.get_pending_proposals(self.db)

    def validate_proposal(self, proposal: ProposalInput) -> ValidationResult:
        return lifecycle.validate_against_live(self.db, proposal)


def create_allocation_manager(db: Database) -> AllocationManager:
    return AllocationManager(db)
