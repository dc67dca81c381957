"""Experiments: the design form checks each arm against the policy and says the power as it is
typed, files once after a confirmation; one experiment's view shows the blocks that have started
by arm and hides the rest, the results and verdict once there are blocks, the schedule verified
at the end; governors review and stop, analysts adopt, each through a dialog; viewers read only.
Outcomes and Performance mark the blocks that ran.

Experiments are filed at the real time (the page's clock) to start a few days ahead, and the
schedule is stepped on a simulated clock from there, its days of launches imported as of each
day's end (as tests/integration/test_experiments.py does)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from core.allocation.current import get_current_allocation
from core.experiments.service import (create_experiment, list_experiments, review_experiment,
                                      show_experiment)
from core.proposals.lifecycle import get_pending_proposals
from db.types import utcnow
from tests.app.helpers import ROOT, TIMEOUT, all_text, no_exception, open_page, sign_in_as
from tests.integration.test_experiments import load_day, run_days, tick
from ui.experiments import USEFUL_MDE_PCT, too_short_warning

PAGE = "pages/10_Experiments.py"
DAY = timedelta(days=1)
CONTROL, OTHER = "80/15/3/2", "70/18/8/4"


def ahead(days: int = 3) -> datetime:
    """A midnight `days` ahead of the real clock: the start of a simulated experiment."""
    return datetime.combine(utcnow().date() + days * DAY, time(), tzinfo=UTC)


def recorded_days(db, tmp_path: Path, days: int, seed: int = 1) -> None:
    """`days` days of launches up to yesterday, about 20 a day."""
    rng = random.Random(seed)
    today = datetime.combine(utcnow().date(), time(), tzinfo=UTC)
    for back in range(days, 0, -1):
        load_day(db, tmp_path, today - back * DAY, 20 + rng.randint(-3, 3))


def filed_and_approved(db, blocks: int = 4, by: str = "ann") -> tuple[str, datetime]:
    start = ahead()
    experiment = create_experiment(db, arms=f"{CONTROL},{OTHER}", block_hours=24, blocks=blocks,
                                   starts_at=start.isoformat(), reasoning="a bigger lottery?",
                                   by=by, mde_runs=20).experiment_id
    review_experiment(db, experiment, "approved", by="gus")
    review_experiment(db, experiment, "approved", by="gil")
    return experiment, start


def finished(db, tmp_path: Path) -> str:
    """Four daily blocks run on the simulated clock; the other arm brings half as many again."""
    experiment, start = filed_and_approved(db)
    run_days(db, tmp_path, start, 4, lambda split: 30 if split == OTHER else 20)
    tick(db, start + 4 * DAY)
    return experiment


def view(user: str, experiment: str) -> AppTest:
    st.cache_data.clear()  # the schedule moved outside the page
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    sign_in_as(at, user)
    at.query_params["experiment"] = experiment
    return at.switch_page(PAGE).run()


def design(at: AppTest, *, other: str = OTHER, blocks: int = 4, reasoning: str = "") -> AppTest:
    at.text_input(key="exp_arm_1").input(other)
    at.number_input(key="exp_blocks").set_value(blocks)
    if reasoning:
        at.text_area(key="exp_reasoning").input(reasoning)
    return at.run()


def chart(at: AppTest) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


# --- the design form ---------------------------------------------------------------------------

def test_the_form_starts_from_the_live_split_and_names_each_arm_the_policy_refuses(plain_db):
    at = open_page(PAGE, user="ann")
    no_exception(at)
    assert at.text_input(key="exp_arm_0").value == CONTROL
    assert "Type each arm's split" in all_text(at)
    assert at.button(key="exp_file").disabled
    at = design(at, other="95/3/1/1", blocks=3)
    errors = [e.value for e in at.error]
    assert "blocks: 3 is not a multiple of the 2 arms (each round holds every arm once)" in errors
    at = design(at, other="95/3/1/1")
    errors = [e.value for e in at.error]
    assert "arms: arm 2 (95/3/1/1): reinvestment: 95 is above the maximum 90" in errors
    assert "arms: arm 2 (95/3/1/1): dao: 3 is below the minimum 5" in errors
    assert at.button(key="exp_file").disabled
    at = design(at)
    assert not at.error
    assert "All 2 arms are within the policy's bounds and the design is valid." in all_text(at)


def test_a_start_in_the_past_and_a_wrong_guardrail_are_refused_under_their_inputs(plain_db):
    at = design(open_page(PAGE, user="ann"))
    at.date_input(key="exp_start_day").set_value(utcnow().date() - DAY)
    at.multiselect(key="exp_guardrails").select("volume_per_day")
    at = at.run()
    at.number_input(key="exp_guard_volume_per_day").set_value(150.0)
    at = at.run()
    no_exception(at)
    errors = [e.value for e in at.error]
    assert any(e.startswith("starts_at: ") and "is not in the future" in e for e in errors)
    assert "guardrail: volume_per_day's drop 150 is outside (0, 100] percent" in errors


def test_the_power_is_said_as_the_design_is_typed_or_that_the_days_are_too_few(plain_db,
                                                                               tmp_path):
    at = design(open_page(PAGE, user="ann"))
    assert ("Not enough data: with 4 blocks of 24 h the recorded figures are too few to say what "
            "change could be detected") in all_text(at)
    recorded_days(plain_db, tmp_path, 30)
    st.cache_data.clear()
    at = design(at, blocks=8)
    no_exception(at)
    power = [i.value for i in at.info if i.value.startswith("Power:")]
    assert len(power) == 1
    assert power[0].startswith("Power: with 8 blocks of 24 h you can detect a change of about "
                               "±")
    assert power[0].endswith("% in tokens per day.")


def test_no_power_is_said_beside_a_bounds_error_only_that_it_comes_once_the_design_is_valid(
        plain_db):
    at = design(open_page(PAGE, user="ann"), other="95/3/1/1")
    no_exception(at)
    assert "arms: arm 2 (95/3/1/1): reinvestment: 95 is above the maximum 90" in [
        e.value for e in at.error]
    assert "The power appears once the design is valid." in all_text(at)
    assert "with 4 blocks of 24 h" not in all_text(at)  # neither a power nor "not enough data"
    at = design(at)
    assert "The power appears once the design is valid." not in all_text(at)
    assert "with 4 blocks of 24 h" in all_text(at)


def test_a_design_too_short_to_detect_a_useful_change_is_warned_about(plain_db, tmp_path):
    recorded_days(plain_db, tmp_path, 30)
    at = design(open_page(PAGE, user="ann"), blocks=4)
    no_exception(at)
    [power] = [i.value for i in at.info if i.value.startswith("Power:")]
    assert float(power.split("±")[1].split("%")[0]) > USEFUL_MDE_PCT
    assert too_short_warning() in [w.value for w in at.warning]
    assert too_short_warning() == ("This design could only detect changes above ±50%: add "
                                   "blocks or lengthen them.")
    at = design(at, blocks=28)
    [power] = [i.value for i in at.info if i.value.startswith("Power:")]
    assert float(power.split("±")[1].split("%")[0]) <= USEFUL_MDE_PCT
    assert too_short_warning() not in [w.value for w in at.warning]


def test_filing_asks_first_then_files_once_and_the_form_starts_again(plain_db):
    at = design(open_page(PAGE, user="ann"), reasoning="does a bigger lottery bring launches?")
    assert not at.button(key="exp_file").disabled
    at = at.button(key="exp_file").click().run()
    assert list_experiments(plain_db) == []  # nothing before the confirmation
    assert "does a bigger lottery bring launches?" in [t.value for t in at.text]
    assert "4 blocks of 24 h" in all_text(at)
    at = at.button(key="confirm_file_experiment").click().run()
    no_exception(at)
    [filed] = list_experiments(plain_db)
    assert (filed.status, [a.label() for a in filed.arms]) == ("proposed", [CONTROL, OTHER])
    assert "Experiment filed (proposed)" in all_text(at)
    # The form is back at its start: the second arm is empty, so nothing can be filed again.
    assert at.text_input(key="exp_arm_1").value == ""
    assert at.button(key="exp_file").disabled
    assert not [b for b in at.button if b.key == "confirm_file_experiment"]
    at = at.run()
    assert len(list_experiments(plain_db)) == 1


def test_a_viewer_reads_the_experiments_but_has_no_form(plain_db):
    filed_and_approved(plain_db)
    at = open_page(PAGE, user="vic")
    no_exception(at)
    assert "Analysts and above design and file experiments" in all_text(at)
    assert not [b for b in at.button if b.key == "exp_file"]
    assert len(at.dataframe[0].value) == 1


# --- one experiment ----------------------------------------------------------------------------

def test_the_timeline_colours_the_started_blocks_by_arm_and_hides_the_rest(plain_db):
    experiment, start = filed_and_approved(plain_db)
    tick(plain_db, start)
    tick(plain_db, start + DAY)
    at = view("vic", experiment)
    no_exception(at)
    assert "Running: 2 of 4 blocks have started" in all_text(at)
    traces = chart(at)["data"]
    shown = {t["name"]: t["text"] for t in traces}
    hidden = shown.pop("not started: its arm stays secret")
    assert hidden == ["3", "4"]
    assert sorted(n for names in shown.values() for n in names) == ["1", "2"]
    assert set(shown) <= {f"{CONTROL} (control)", OTHER}
    secret = next(t for t in traces if t["name"].startswith("not started"))
    assert secret["hovertext"] == ["block 3: not started yet", "block 4: not started yet"]
    assert "Salt" not in all_text(at) and "only the schedule's SHA-256 is public" in all_text(at)


def test_a_finished_experiment_shows_each_arms_change_interval_p_value_and_the_verdict(
        plain_db, tmp_path):
    experiment = finished(plain_db, tmp_path)
    at = view("vic", experiment)
    no_exception(at)
    table = at.dataframe[0].value
    assert list(table["arm"]) == [CONTROL, OTHER]
    assert list(table["change"])[0] == "control"
    change = list(table["change"])[1]
    assert change.startswith("+") and change.endswith("%")
    assert " … " in list(table["95% interval"])[1] and list(table["p-value"])[1] != "—"
    verdicts = [s.value for s in at.success if s.value.startswith("Verdict:")]
    assert verdicts and verdicts[0].startswith(f"Verdict: {OTHER} raised tokens per day by")
    data = show_experiment(plain_db, experiment).as_json()
    assert f"`{data['salt']}`" in all_text(at)
    assert "Verified: the SHA-256 of salt:schedule is the hash published" in all_text(at)
    assert "not started" not in json.dumps(chart(at))  # every block ran, all shown
    # Its interval lies above 0: the change is coloured (green, a rise).
    assert "background-color: #d4edda" in at.dataframe[0].proto.arrow_data.styler.styles


def test_no_change_is_coloured_when_its_interval_holds_zero(plain_db, tmp_path):
    experiment, start = filed_and_approved(plain_db)
    run_days(plain_db, tmp_path, start, 4, lambda split: 20)
    tick(plain_db, start + 4 * DAY)
    at = view("vic", experiment)
    assert [i.value for i in at.info if i.value.startswith("Verdict: no detectable difference")]
    styled = at.dataframe[0].proto.arrow_data.styler.styles
    assert "background-color" not in styled


# --- decisions ---------------------------------------------------------------------------------

def test_two_governors_approve_through_dialogs_and_the_filer_cannot_review(plain_db):
    experiment = create_experiment(plain_db, arms=f"{CONTROL},{OTHER}", block_hours=24, blocks=4,
                                   starts_at=ahead().isoformat(), reasoning="x", by="gus",
                                   mde_runs=20).experiment_id
    at = view("gus", experiment)
    assert "You filed this experiment: other governors must review it" in all_text(at)
    assert not [b for b in at.button if b.key == "exp_approve"]
    review_experiment(plain_db, experiment, "approved", by="ada")
    at = view("gil", experiment)
    at = at.button(key="exp_approve").click().run()
    assert "Your approval completes the count" in all_text(at)
    at = at.button(key="confirm_exp_approve").click().run()
    no_exception(at)
    assert "Approved: it starts" in all_text(at)
    assert list_experiments(plain_db)[0].status == "approved"


def test_a_refused_review_is_one_error_line_and_writes_nothing(plain_db):
    experiment = create_experiment(plain_db, arms=f"{CONTROL},{OTHER}", block_hours=24, blocks=4,
                                   starts_at=ahead().isoformat(), reasoning="x", by="ann",
                                   mde_runs=20).experiment_id
    at = view("gus", experiment).button(key="exp_approve").click().run()
    # Meanwhile another governor rejects it: the dialog says so and cannot approve.
    review_experiment(plain_db, experiment, "rejected", by="gil", notes="not now")
    at = at.run()
    assert "This experiment is rejected now: someone decided first." in all_text(at)
    assert at.button(key="confirm_exp_approve").disabled


def test_a_governor_stops_a_running_experiment_with_a_reason_and_only_once(plain_db):
    experiment, start = filed_and_approved(plain_db)
    tick(plain_db, start)
    at = view("gil", experiment).button(key="exp_stop").click().run()
    assert "Write the reason to enable Stop." in all_text(at)
    assert at.button(key="confirm_exp_stop").disabled
    at.text_area(key="exp_stop_reason").input("the market moved")
    at = at.run()
    at = at.button(key="confirm_exp_stop").click().run()
    no_exception(at)
    assert "Stopped: the schedule and its salt are now public." in all_text(at)
    assert "Stopped" in all_text(at) and "the market moved" in all_text(at)
    assert not [b for b in at.button if b.key == "exp_stop"]
    assert get_current_allocation(plain_db).split.label() == CONTROL
    data = show_experiment(plain_db, experiment).as_json()
    assert (data["status"], data["stopped_by"]) == ("stopped", "gil")


def test_an_analyst_adopts_an_arm_after_the_dialog_shows_the_proposal(plain_db, tmp_path):
    experiment = finished(plain_db, tmp_path)
    at = view("ann", experiment)
    assert not [b for b in at.button if b.key == "exp_stop"]  # an analyst stops nothing
    at = at.button(key="exp_adopt").click().run()
    assert f"File an ordinary proposal of {OTHER}" in all_text(at).replace("**", "")
    assert get_pending_proposals(plain_db) == []
    at = at.button(key="confirm_exp_adopt").click().run()
    no_exception(at)
    [pending] = get_pending_proposals(plain_db)
    assert pending.record.split.label() == OTHER and experiment in pending.record.reasoning
    assert f"Proposal {OTHER} filed with the experiment's evidence" in all_text(at)


def test_an_unknown_experiment_says_so(plain_db):
    at = view("vic", "not-an-id")
    no_exception(at)
    assert at.error and "experiment" in at.error[0].value


# --- the other pages ---------------------------------------------------------------------------

def test_outcomes_and_performance_mark_the_blocks_that_ran_by_arm(plain_db, tmp_path):
    experiment = finished(plain_db, tmp_path)
    st.cache_data.clear()
    outcomes = open_page("pages/9_Outcomes.py", user="vic")
    no_exception(outcomes)
    spec = chart(outcomes)
    strips = [s for s in spec["layout"]["shapes"] if s["name"].startswith("experiment ")]
    assert len(strips) == 4
    marks = next(t for t in spec["data"] if t["name"] == "Experiment blocks")
    assert all(f"experiment {experiment[:8]}, block" in h for h in marks["hovertext"])
    assert {h.split(": ", 1)[1].split("<br>")[0] for h in marks["hovertext"]} == {
        f"{CONTROL} (control)", f"{OTHER} (arm 1)"}
    performance = open_page("pages/5_Performance.py", user="vic")
    no_exception(performance)
    bars = json.loads(performance.get("plotly_chart")[0].proto.spec)["data"][0]
    assert "/" in bars["marker"]["pattern"]["shape"]
    assert any("block" in h for h in bars["hovertext"])
