"""The experiments' tables hold the same facts as the design's rules (db never imports core)."""

from __future__ import annotations

from core.experiments import design, store
from db import models


def test_the_metrics_the_database_allows_are_the_designs_metrics():
    assert models.EXPERIMENT_METRICS == tuple(design.METRICS)


def test_the_statuses_the_services_name_are_the_tables_statuses():
    assert (store.PROPOSED, store.APPROVED, store.REJECTED, store.RUNNING, store.FINISHED,
            store.STOPPED) == models.EXPERIMENT_STATUSES
    assert set(store.ENDED) == set(models.ENDED_EXPERIMENT)


def test_a_switch_is_an_allocation_log_proposer_no_person_may_file_as():
    from core.allocation.validation import PROPOSERS

    assert store.EXPERIMENT in models.PROPOSERS and store.EXPERIMENT not in PROPOSERS
