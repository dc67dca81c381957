"""The reads other pages make of experiments (core.experiments.views) and the design's policy
check as it is typed (core.experiments.store.policy_problems), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from core.experiments import store
from core.experiments.design import parse_design
from core.experiments.service import stop_experiment
from core.experiments.views import block_spans
from core.governance.policy_store import get_policy, set_policy
from tests.integration.test_experiments import (ARMS, CONTROL, DAY, OTHER, approve,
                                                experiment_rows, file_experiment,
                                                first_midnight, run_days)


def test_block_spans_are_the_blocks_that_ran_with_their_arm_and_never_one_to_come(team,
                                                                                  tmp_path):
    now = first_midnight(team)
    experiment = file_experiment(team, now, blocks=8)
    approve(team, experiment, now)
    assert block_spans(team) == []  # approved, not started: nothing has run
    start = now + DAY
    run_days(team, tmp_path, start, 3, lambda split: 20)
    spans = block_spans(team)
    assert [s.index for s in spans] == [0, 1, 2]
    assert [(s.starts_at, s.ends_at) for s in spans] == [
        (start + i * DAY, start + (i + 1) * DAY) for i in range(3)]
    assert {s.split_label for s in spans} <= {CONTROL, OTHER}
    assert all(s.label() == (f"{CONTROL} (control)" if s.arm == 0 else f"{OTHER} (arm 1)")
               for s in spans)
    # A switch that changed the split names its log row; one that found its arm live, none.
    logged = {str(row.id) for row in experiment_rows(team)}
    assert {s.allocation_id for s in spans if s.allocation_id} <= logged
    stop_experiment(team, experiment, by="gus", reason="enough",
                    now=start + 2 * DAY + timedelta(hours=6))
    cut = block_spans(team)
    assert len(cut) == 3 and cut[-1].ends_at == start + 2 * DAY + timedelta(hours=6)


def test_policy_problems_name_each_arm_out_of_bounds_and_a_block_shorter_than_the_gap(team):
    design = parse_design(arms=f"{CONTROL},95/3/1/1", block_hours=12, blocks=4)
    set_policy(team, "min_hours_between_activations", "24", by="ada")
    problems = store.policy_problems(design, get_policy(team))
    assert "arms: arm 2 (95/3/1/1): reinvestment: 95 is above the maximum 90" in problems
    assert ("block_hours: 12 h is shorter than the policy's min_hours_between_activations "
            "(24 h)") in problems
    assert store.policy_problems(parse_design(arms=ARMS, block_hours=24, blocks=4),
                                 get_policy(team)) == []
