"""Experiments on the pages: the design form with its checks and power as it is typed, the list,
one experiment's view (its schedule, results and verdict), and the dialogs that file, review,
stop and adopt.

What a person may learn of the schedule is what core shows (`show_experiment`): the arm of a
block once it has started, the salt and the whole schedule once it has ended. The pages draw
exactly that and nothing more.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from core.allocation.split import Split
from core.allocation.validation import ProposalInput
from core.base.errors import DomainError, ValidationFailed
from core.base.formatting import percent_digits
from core.experiments import store, views
from core.experiments.design import (CONTROL, DEFAULT_METRIC, MAX_ARMS, METRICS, MIN_ARMS,
                                     check_starts_at, parse_design, verify_schedule)
from core.experiments.power import detectable_sentence
from core.experiments.service import (ExperimentView, adopt_experiment, create_experiment,
                                      list_experiments, recorded_mde, review_experiment,
                                      show_experiment, stop_experiment)
from core.proposals.lifecycle import validate_against_live
from db.engine import Database
from db.types import utcnow
from ui import confirm, outcome_figures, readers
from ui.feedback import flash, show_problems
from ui.format import count, exact_percent, measured, number, percent, plain, when
from ui.proposals import page_link as proposal_link
from ui.proposals import split_changes
from ui.readers import reader
from ui.second_factor import review_code_field

EXPERIMENTS_PAGE = "pages/10_Experiments.py"
PARAM = "experiment"  # ?experiment=ID: one experiment's shareable view
RESET_KEY, FILED_KEY, ADOPTED_KEY = "exp_reset", "exp_filed", "exp_adopted"
DEFAULT_BLOCK_HOURS, DEFAULT_BLOCKS = 24, 14  # two weeks of whole days
DEFAULT_GUARDRAIL_DROP = 10.0
# Above this minimum detectable effect a design can only see changes no split would make: the
# form warns that it is too short to be worth running.
USEFUL_MDE_PCT = Decimal(50)
P_PLACES = 3
STATUS_ICONS = {"proposed": "🕒", "approved": "✅", "rejected": "❌", "running": "▶️",
                "finished": "🏁", "stopped": "🛑"}
# Green for a rise, red for a fall: every metric an experiment measures is better higher.
RISE, FALL = "background-color: #d4edda", "background-color: #f8d7da"


# --- cached reads ------------------------------------------------------------------------------

@reader(ttl=15)
def all_experiments(db: Database):
    return list_experiments(db)


@reader(ttl=15, spinner="Reading the experiment's blocks…")
def experiment(db: Database, experiment_id: str) -> ExperimentView:
    return show_experiment(db, experiment_id)


@reader(ttl=60)
def block_spans(db: Database) -> list[views.BlockSpan]:
    """Every experiment block that ran, for the Outcomes and Performance charts."""
    return views.block_spans(db)


@reader(ttl=3600, spinner="Replaying the design over the recorded figures…")
def power(db: Database, arms: str, block_hours: int, blocks: int, burn_in_hours: int,
          metric: str, day: date) -> float | None:
    """The design's minimum detectable effect over the recorded figures (1 to 3 s: cached by
    the design, and by the day, as a new day of figures may change it)."""
    design = parse_design(arms=arms, block_hours=block_hours, blocks=blocks,
                          burn_in_hours=burn_in_hours, metric=metric)
    return recorded_mde(db, design, utcnow())


def link(experiment_id: str) -> str:
    """The shareable address of one experiment's view (relative, as proposals' links are)."""
    return f"Experiments?{PARAM}={experiment_id}"


def page_link(experiment_id: str, label: str = "Open this experiment") -> None:
    st.page_link(EXPERIMENTS_PAGE, label=label, query_params={PARAM: experiment_id})


def arms_line(labels: list[str]) -> str:
    return ", ".join(f"{label} (control)" if i == CONTROL else label
                     for i, label in enumerate(labels))


def list_table(summaries) -> pd.DataFrame:
    return pd.DataFrame([{"status": f"{STATUS_ICONS.get(s.status, '')} {s.status}",
                          "arms": arms_line([a.label() for a in s.arms]),
                          "from": when(s.starts_at), "to": when(s.ends_at),
                          "filed by": s.created_by, "page": link(s.experiment_id)}
                         for s in summaries])


# --- the design form ---------------------------------------------------------------------------

def _next_midnight() -> date:
    return (utcnow() + timedelta(days=1)).date()


def form_defaults(live: Split) -> dict[str, Any]:
    """Where the form starts: the live split as the control, whole days from the next midnight
    (the figures are daily: a block that starts mid-day loses that day to neither arm)."""
    return {"exp_arm_count": MIN_ARMS, "exp_arm_0": live.label(),
            **{f"exp_arm_{i}": "" for i in range(1, MAX_ARMS)},
            "exp_block_hours": DEFAULT_BLOCK_HOURS, "exp_blocks": DEFAULT_BLOCKS,
            "exp_burn_in": 0, "exp_metric": DEFAULT_METRIC, "exp_guardrails": [],
            "exp_start_day": _next_midnight(), "exp_start_time": time(0), "exp_reasoning": ""}


def start_form(live: Split) -> None:
    """Put the defaults in place before the widgets exist, and again after a filing (so the
    same design cannot be filed twice by a second click)."""
    reset = st.session_state.pop(RESET_KEY, False)
    for key, value in form_defaults(live).items():
        if reset or key not in st.session_state:
            st.session_state[key] = value


def design_inputs() -> dict[str, Any]:
    """The form's widgets; returns what was typed, as the services take it."""
    arm_count = st.radio("How many arms", list(range(MIN_ARMS, MAX_ARMS + 1)), horizontal=True,
                         key="exp_arm_count", help="The first is the control, normally the live "
                         "split; each of the others is a split to compare with it.")
    arms = []
    for index, column in enumerate(st.columns(MAX_ARMS)[:arm_count]):
        arms.append(column.text_input(
            f"Arm {index + 1}" + (" · the control" if index == CONTROL else ""),
            key=f"exp_arm_{index}", placeholder="70/18/8/4",
            help="Reinvestment/DAO/lucky/creator in percent, summing to 100."))
    slots = {"arms": st.empty()}
    hours, blocks, burn_in = st.columns(3)
    typed = {"arms": [a.strip() for a in arms],
             "block_hours": hours.number_input("Hours per block", step=24, key="exp_block_hours"),
             "blocks": blocks.number_input("Blocks", step=1, key="exp_blocks",
                                           help="A multiple of the arms: each round runs every "
                                           "arm once, in a random order."),
             "burn_in_hours": burn_in.number_input(
                 "Burn-in hours", step=1, key="exp_burn_in",
                 help="Left out at the start of each block, while the switch settles.")}
    slots.update(block_hours=hours.empty(), blocks=blocks.empty(), burn_in_hours=burn_in.empty())
    typed["metric"] = st.selectbox("Metric", list(METRICS), key="exp_metric",
                                   format_func=METRICS.get)
    chosen = st.multiselect("Guardrails: stop if an arm lowers", list(METRICS),
                            key="exp_guardrails", format_func=METRICS.get)
    drops = st.columns(max(len(chosen), 1))
    typed["guardrails"] = []
    for column, metric in zip(drops, chosen):
        st.session_state.setdefault(f"exp_guard_{metric}", DEFAULT_GUARDRAIL_DROP)
        drop = column.number_input(f"{METRICS[metric]}: by more than (%)", step=1.0,
                                   format="%g", key=f"exp_guard_{metric}")
        # Every digit as typed, no float noise and no trailing `.0` (`10`, `2.5`).
        typed["guardrails"].append(f"{metric}:-{percent_digits(drop)}" if drop is not None
                                   else f"{metric}:")
    slots["guardrail"] = st.empty()
    day, clock = st.columns(2)
    start_day = day.date_input("Starts on (UTC)", key="exp_start_day")
    start_time = clock.time_input("at (UTC)", key="exp_start_time", step=timedelta(hours=1))
    typed["starts_at"] = datetime.combine(start_day, start_time, tzinfo=UTC)
    slots["starts_at"] = st.empty()
    typed["reasoning"] = st.text_area("Reasoning", key="exp_reasoning",
                                      placeholder="What do you expect the other arms to change?")
    slots["reasoning"] = st.empty()
    return {"typed": typed, "slots": slots}


def check_design(db: Database, typed: dict[str, Any]):
    """The design as core reads it, and every problem core and the policy find, each naming
    its field; (None, problems) while the design itself is broken."""
    problems = []
    try:
        check_starts_at(typed["starts_at"], utcnow())
    except ValidationFailed as early:
        problems += early.problems
    if any(not arm for arm in typed["arms"]):
        return None, problems
    try:
        design = parse_design(arms=",".join(typed["arms"]), block_hours=typed["block_hours"],
                              blocks=typed["blocks"], burn_in_hours=typed["burn_in_hours"],
                              metric=typed["metric"], guardrails=typed["guardrails"])
    except ValidationFailed as broken:
        return None, broken.problems + problems
    return design, store.policy_problems(design, readers.policy(db)) + problems


def show_checks(db: Database, design, problems: list[str], slots: dict[str, Any]) -> str | None:
    """The problems under their inputs, or that the design passes and then its power, with a
    warning when it is too short to detect a useful change. Returns the power sentence (None
    until the design passes every check)."""
    if design is None and not problems:
        st.info("Type each arm's split, like 70/18/8/4: the checks and the power follow.")
        return None
    show_problems(problems, slots)
    if design is None or problems:
        # A power next to errors reads as if the design could be filed as it stands.
        st.caption("📏 The power appears once the design is valid.")
        return None
    st.success(f"✔️ All {count(len(design.arms))} arms are within the policy's bounds and "
               "the design is valid.")
    mde = power(db, store.arms_text(design.arms), design.block_hours, design.blocks,
                design.burn_in_hours, design.metric, utcnow().date())
    sentence = detectable_sentence(design, mde)
    if mde is None:
        st.warning(f"📏 Not enough data: {sentence} (the recorded days must cover the "
                   f"{count(design.blocks * design.block_hours)} h of the design).")
    else:
        st.info(f"📏 Power: {sentence}.")
        if mde > USEFUL_MDE_PCT:
            st.warning(too_short_warning(), icon="⚠️")
    return sentence


def too_short_warning() -> str:
    return (f"This design could only detect changes above ±{exact_percent(USEFUL_MDE_PCT)}: "
            "add blocks or lengthen them.")


def ask_to_file(typed: dict[str, Any], sentence: str | None) -> None:
    confirm.ask("file_experiment", arms=typed["arms"], block_hours=typed["block_hours"],
                blocks=typed["blocks"], burn_in_hours=typed["burn_in_hours"],
                metric=typed["metric"], guardrails=typed["guardrails"],
                starts_at=typed["starts_at"].isoformat(), reasoning=typed["reasoning"],
                sentence=sentence)


def file_dialog(db: Database, username: str) -> None:
    def show(details: dict[str, Any]) -> bool:
        design = parse_design(arms=",".join(details["arms"]), block_hours=details["block_hours"],
                              blocks=details["blocks"], burn_in_hours=details["burn_in_hours"],
                              metric=details["metric"], guardrails=details["guardrails"])
        starts = datetime.fromisoformat(details["starts_at"])
        st.markdown(f"**Arms:** {arms_line([a.label() for a in design.arms])}  \n"
                    f"**Schedule:** {count(design.blocks)} blocks of "
                    f"{count(design.block_hours)} h, burn-in {count(design.burn_in_hours)} h, "
                    f"from {when(starts)} to {when(design.ends_at(starts))}  \n"
                    f"**Measures:** {METRICS[design.metric]}; guardrails: "
                    f"{', '.join(g.label() for g in design.guardrails) or 'none'}")
        if details["sentence"]:
            st.caption(f"📏 {details['sentence']}")
        st.markdown("**Reasoning:**")
        st.text(details["reasoning"])
        st.write("The schedule is drawn when you file; only its SHA-256 is published until the "
                 "end. Governors then review it as a major change.")
        return True

    def act(details: dict[str, Any]) -> str:
        filed = create_experiment(db, arms=",".join(details["arms"]),
                                  block_hours=details["block_hours"], blocks=details["blocks"],
                                  burn_in_hours=details["burn_in_hours"],
                                  metric=details["metric"], guardrails=details["guardrails"],
                                  starts_at=details["starts_at"], reasoning=details["reasoning"],
                                  by=username)
        st.session_state[RESET_KEY] = True
        st.session_state[FILED_KEY] = filed.experiment_id
        return (f"🧪 Experiment filed ({filed.status}), {when(filed.starts_at)} to "
                f"{when(filed.ends_at)}; schedule sha256 {filed.schedule_sha256}. It now waits "
                "for the governors.")

    confirm.confirmation("file_experiment", "File this experiment?", show, act,
                         confirm_label="📨 File")


# --- one experiment ----------------------------------------------------------------------------

def status_line(view: ExperimentView) -> tuple[str, str]:
    """What state it is in, in one sentence, and how loudly to say it."""
    s = view.summary
    approvals = f"{count(len(view.approvals))} of {count(view.approvals_required)} approvals"
    if s.status == "proposed":
        return (f"Waiting for review: {approvals}"
                + (f" ({', '.join(view.approvals)})" if view.approvals else "")
                + f". Reviewed as a major change; it would start {when(s.starts_at)}."), "info"
    if s.status == "approved":
        return f"Approved ({', '.join(view.approvals)}); it starts {when(s.starts_at)}.", "success"
    if s.status == "running":
        return (f"Running: {count(len(view.blocks))} of {count(view.design.blocks)} blocks have "
                f"started; it ends {when(s.ends_at)}."), "info"
    if s.status == "finished":
        return f"Finished {when(view.ended_at)}: every block has run.", "success"
    if s.status == "stopped":
        return (f"Stopped {when(view.ended_at)} by {plain(view.stopped_by)}: "
                f"{plain(view.stop_reason)}"), "warning"
    return f"{s.status.capitalize()}: it will not run.", "info"


def schedule_figure(view: ExperimentView):
    planned = view.design.block_bounds(view.summary.starts_at)
    return outcome_figures.schedule_chart(planned, [a.label() for a in view.design.arms],
                                          {b.index: b.arm for b in view.blocks}, view.schedule)


def results_table(view: ExperimentView):
    """Per arm: its blocks, its mean, and against the control the change, its 95 % interval and
    the randomisation p-value; the change coloured only where the interval excludes 0."""
    effects = {e.arm: e for e in view.results.effects}
    labels = [a.label() for a in view.design.arms]
    rows, styles = [], []
    for summary in view.results.arms:
        effect = effects.get(summary.arm)
        change = "control" if summary.arm == CONTROL else "—"
        ci = p = "—"
        style = ""
        if effect is not None and effect.change_pct is not None:
            change = percent(effect.change_pct, signed=True)
            if effect.ci95 is not None:
                ci = f"{percent(effect.ci95[0], signed=True)} … {percent(effect.ci95[1], signed=True)}"
            p = number(effect.p_value, P_PLACES)
            if effect.detected:
                style = RISE if effect.change_pct > 0 else FALL
        rows.append({"arm": labels[summary.arm], "blocks": count(summary.blocks_used),
                     "days": count(summary.days_used),
                     f"mean {METRICS[view.results.metric]}": measured(summary.mean_per_day),
                     "change": change, "95% interval": ci, "p-value": p})
        styles.append(style)
    frame = pd.DataFrame(rows)
    return frame.style.apply(lambda column: styles if column.name == "change"
                             else [""] * len(column), axis=0)


def verdict_kind(view: ExperimentView) -> str:
    found = [e for e in view.results.effects if e.detected]
    if not found:
        return "info"
    if all(e.change_pct > 0 for e in found):
        return "success"
    return "warning" if all(e.change_pct < 0 for e in found) else "info"


def revealed_lines(view: ExperimentView) -> None:
    """After the end: the salt, the whole schedule, and whether they give the published hash."""
    if view.salt is None or view.schedule is None:
        st.caption("🔒 The arms of the blocks still to come stay secret: only the schedule's "
                   "SHA-256 is public until the experiment ends.")
        return
    schedule = ",".join(str(arm) for arm in view.schedule)
    st.markdown(f"**Salt** `{view.salt}` · **schedule** `{schedule}` (0 is the control)")
    if verify_schedule(view.schedule_sha256, view.salt, view.schedule):
        st.success("✔️ Verified: the SHA-256 of salt:schedule is the hash published when it was "
                   "filed, so the schedule was fixed before the start.")
    else:
        st.error("🚫 The revealed salt and schedule do not give the published hash.")
    st.code(f"printf '%s' '{view.salt}:{schedule}' | sha256sum", language="bash")


def actions(view: ExperimentView, *, can_review: bool, can_file: bool, username: str) -> None:
    """The buttons this person may use on this experiment, each asking before it acts."""
    s = view.summary
    details = {"id": s.experiment_id, "arms": [a.label() for a in view.design.arms],
               "starts_at": s.starts_at.isoformat()}
    buttons = st.columns([1, 1, 1, 3])
    if can_review and s.status == store.PROPOSED:
        if s.created_by == username:
            st.info("✋ You filed this experiment: other governors must review it (four-eyes "
                    "rule).")
        elif username in view.approvals:
            st.info("👍 You approved this experiment; it waits for other governors.")
        else:
            if buttons[0].button("✅ Approve…", key="exp_approve", type="primary"):
                confirm.ask("exp_approve", **details, approvals=len(view.approvals),
                            required=view.approvals_required)
            if buttons[1].button("❌ Reject…", key="exp_reject"):
                confirm.ask("exp_reject", **details)
    if can_review and s.status in store.LIVE:
        if buttons[2].button("🛑 Stop…", key="exp_stop"):
            confirm.ask("exp_stop", **details, status=s.status)
    if can_file and s.status in store.ENDED and view.results.enough_blocks:
        labels = [a.label() for a in view.design.arms]
        pick, cell = st.columns([2, 1])
        arm = pick.selectbox("Adopt an arm as a proposal", range(1, len(labels)),
                             key="exp_adopt_arm", format_func=lambda i: labels[i])
        cell.write("")
        if cell.button("📨 Adopt…", key="exp_adopt"):
            confirm.ask("exp_adopt", **details, arm=arm, verdict=view.results.verdict)
    if st.session_state.get(ADOPTED_KEY):
        proposal_link(st.session_state[ADOPTED_KEY], "Open the proposal you filed")


def experiment_view(db: Database, experiment_id: str, *, can_review: bool, can_file: bool,
                    username: str) -> None:
    back, again = st.columns([4, 1])
    # A button, not a link to this same page: the address must lose `?experiment=` too, or a
    # reload would open the experiment again.
    if back.button("← Every experiment", key="exp_back", type="tertiary"):
        st.query_params.pop(PARAM, None)
        st.rerun()
    # The schedule moves it on by itself (a block starts, it ends): read it afresh on demand.
    if again.button("🔄 Read again", key="exp_refresh"):
        experiment.clear()
        st.rerun()
    try:
        view = experiment(db, experiment_id)
    except DomainError as missing:
        st.error(missing.problems[0], icon="🔎")
        return
    s, design = view.summary, view.design
    labels = [a.label() for a in design.arms]
    st.subheader(f"{STATUS_ICONS.get(s.status, '')} Experiment {', '.join(labels)} · {s.status}")
    st.caption(f"Filed by {s.created_by} · id {s.experiment_id}")
    line, kind = status_line(view)
    getattr(st, kind)(line)
    st.markdown(f"**Arms:** {arms_line(labels)}  \n"
                f"**Design:** {count(design.blocks)} blocks of {count(design.block_hours)} h "
                f"from {when(s.starts_at)} to {when(s.ends_at)}, burn-in "
                f"{count(design.burn_in_hours)} h; measures {METRICS[design.metric]}; "
                f"guardrails: {', '.join(g.label() for g in design.guardrails) or 'none'}  \n"
                f"**Power when filed:** {detectable_sentence(design, view.mde_pct)}")
    st.markdown("**Reasoning:**")
    st.text(view.reasoning)
    st.markdown("**Schedule SHA-256** (published when it was filed):")
    st.code(view.schedule_sha256, language=None)
    st.plotly_chart(schedule_figure(view), key="exp_timeline")
    revealed_lines(view)
    st.markdown(f"**Results on {METRICS[design.metric]}**")
    if view.results.enough_blocks:
        st.dataframe(results_table(view), hide_index=True, key="exp_results")
        st.caption("The change is each arm's mean block against the control's; the interval a "
                   "block bootstrap by rounds; the p-value from re-drawn schedules. A change is "
                   "coloured only when its interval excludes 0.")
    getattr(st, verdict_kind(view))(f"Verdict: {view.results.verdict}.")
    actions(view, can_review=can_review, can_file=can_file, username=username)


# --- the decisions -----------------------------------------------------------------------------

def _status_now(db: Database, experiment_id: str) -> str | None:
    """The experiment's status read afresh (a dialog must not act on a cached one)."""
    return next((s.status for s in list_experiments(db) if s.experiment_id == experiment_id),
                None)


def _still(db: Database, details: dict[str, Any], statuses: tuple[str, ...]) -> bool:
    status = _status_now(db, details["id"])
    if status not in statuses:
        st.warning(f"This experiment is {status} now: someone decided first.", icon="⏱️")
        return False
    return True


def decision_dialogs(db: Database, username: str) -> None:
    """Approve, reject, stop, adopt: call once per page, after the view."""

    def show_approve(details: dict[str, Any]) -> bool:
        if not _still(db, details, (store.PROPOSED,)):
            return False
        completes = details["approvals"] + 1 >= details["required"]
        st.markdown(f"Approve running **{arms_line(details['arms'])}** from "
                    f"{when(datetime.fromisoformat(details['starts_at']))}?")
        st.write("Your approval completes the count: the split will switch between the arms on "
                 "the committed schedule from the start." if completes else
                 f"Your approval is {count(details['approvals'] + 1)} of "
                 f"{count(details['required'])}: it keeps waiting for more.")
        st.text_input("Notes for the log (optional)", key="exp_approve_notes")
        return review_code_field(db, username, "exp_approve_totp")

    def show_reject(details: dict[str, Any]) -> bool:
        if not _still(db, details, (store.PROPOSED,)):
            return False
        st.markdown(f"Reject **{arms_line(details['arms'])}**? It will never run.")
        notes = st.text_area("Why? (written to the log)", key="exp_reject_notes")
        if not notes.strip():
            st.caption("Write the reason to enable Reject.")
        return bool(notes.strip()) and review_code_field(db, username, "exp_reject_totp")

    def review(decision: str, prefix: str):
        def run(details: dict[str, Any]) -> tuple[str, str]:
            notes = st.session_state.pop(f"{prefix}_notes", "")
            code = st.session_state.pop(f"{prefix}_totp", "").strip()
            outcome = review_experiment(db, details["id"], decision, by=username, notes=notes,
                                        totp=code or None)
            if outcome.status == "approved":
                return (f"✅ Approved: it starts {when(datetime.fromisoformat(details['starts_at']))}"
                        f" ({count(outcome.approvals)} of {count(outcome.approvals_required)} "
                        "approvals)."), "success"
            if outcome.status == "rejected":
                return "❌ Rejected: the experiment will not run.", "info"
            return (f"👍 Approval recorded: {count(outcome.approvals)} of "
                    f"{count(outcome.approvals_required)}."), "info"
        return run

    def show_stop(details: dict[str, Any]) -> bool:
        if not _still(db, details, store.LIVE):
            return False
        running = details["status"] == store.RUNNING
        st.markdown(f"Stop **{arms_line(details['arms'])}**? "
                    + ("The control's split comes back at once through the log. " if running
                       else "It will never start. ")
                    + "The salt and schedule are revealed. This cannot be undone.")
        reason = st.text_area("Why? (written to the log, shown on the experiment)",
                              key="exp_stop_reason")
        if not reason.strip():
            st.caption("Write the reason to enable Stop.")
        return bool(reason.strip()) and review_code_field(db, username, "exp_stop_totp")

    def stop(details: dict[str, Any]) -> tuple[str, str]:
        reason = st.session_state.pop("exp_stop_reason", "")
        code = st.session_state.pop("exp_stop_totp", "").strip()
        stop_experiment(db, details["id"], by=username, reason=reason, totp=code or None)
        return "🛑 Stopped: the schedule and its salt are now public.", "warning"

    def show_adopt(details: dict[str, Any]) -> bool:
        split = Split.of(*details["arms"][details["arm"]].split("/"))
        live = readers.current(db)
        st.markdown(f"File an ordinary proposal of **{split.label()}** (arm "
                    f"{count(details['arm'])}) against the live split **{live.split.label()}**:")
        st.dataframe(split_changes(live.split, split), hide_index=True, key="exp_adopt_changes")
        check = validate_against_live(db, ProposalInput(*(v for _, v in split.items()),
                                                        reasoning="adopted", proposed_by="manual"))
        for error in check.errors:
            st.error(error, icon="🚫")
        for warning in check.warnings:
            st.warning(warning, icon="⚠️")
        if check.tier:
            st.caption(f"It would be a {check.tier} change, reviewed and queued like any other; "
                       "nothing is adopted by itself.")
        st.markdown("**Its reasoning** will cite the experiment and its evidence:")
        st.text(f"Verdict: {details['verdict']}.")
        return check.valid

    def adopt(details: dict[str, Any]) -> str:
        adopted = adopt_experiment(db, details["id"], details["arm"], by=username)
        st.session_state[ADOPTED_KEY] = adopted.proposal_id
        return (f"📨 Proposal {details['arms'][details['arm']]} filed with the experiment's "
                "evidence; it now waits for the governors on Review.")

    confirm.confirmation("exp_approve", "Approve this experiment?", show_approve,
                         review("approved", "exp_approve"), confirm_label="✅ Approve")
    confirm.confirmation("exp_reject", "Reject this experiment?", show_reject,
                         review("rejected", "exp_reject"), confirm_label="❌ Reject")
    confirm.confirmation("exp_stop", "Stop this experiment?", show_stop, stop,
                         confirm_label="🛑 Stop")
    confirm.confirmation("exp_adopt", "Adopt this arm as a proposal?", show_adopt, adopt,
                         confirm_label="📨 File the proposal")


def open_chosen() -> None:
    """The list's picker: open the chosen experiment's view (its address carries it)."""
    chosen = st.session_state.get("exp_open")
    if chosen:
        st.query_params[PARAM] = chosen
        st.session_state["exp_open"] = None
