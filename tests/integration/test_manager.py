"""The seed's AllocationManager API, in Python names, over one database."""

from __future__ import annotations

from decimal import Decimal

from core.allocation.validation import ProposalInput
from core.proposals.manager import create_allocation_manager


def test_the_seed_quick_start_runs_through_the_manager(db):
    manager = create_allocation_manager(db)
    assert manager.get_current_allocation().split.label() == "80/15/3/2"
    proposal = ProposalInput(75, 15, 6, 4, "Manual adjustment for Q1 strategy", 1, "manual",
                             {"manual": True})
    assert manager.validate_proposal(proposal).valid
    proposal_id = manager.propose_allocation(proposal, by="alice")
    assert [p.record.id for p in manager.get_pending_proposals()] == [proposal_id]
    assert manager.review_proposal(proposal_id, "approved", "admin", "Metrics support this").status == "active"
    assert manager.get_current_allocation().split.label() == "75/15/6/4"
    amounts = manager.calculate_amounts("1000.03")
    # 750.0225 / 150.0045 / 60.0018 / 40.0012: the spare cent goes to the largest remainder, dao.
    assert amounts.as_json() == {"reinvestment": "750.02", "dao": "150.01", "lucky": "60.00",
                                 "creator": "40.00"}
    assert amounts.total == Decimal("1000.03")
    assert [r.status for r in manager.get_allocation_history()] == ["active", "active"]
