"""Experiments: two to four splits run in turn on a committed random schedule. Analysts design
one with its policy checks and power as they type and file it; governors approve, reject or stop
it; once it has ended anyone reads what it found and an analyst may adopt an arm. One
experiment's view lives in the address (`?experiment=ID`)."""

import streamlit as st

from ui import experiments, readers
from ui.experiments import PARAM
from ui.feedback import core_call
from ui.page import setup_page

page = setup_page("Experiments", "🧪")
st.caption("A switchback experiment puts each arm's split in force in turn, one block of time "
           "each, on a random schedule fixed when it is filed: only the schedule's SHA-256 is "
           "public until the end, so nobody can time a launch to an arm. Governors review it as "
           "one major change.")

if st.query_params.get(PARAM):  # one experiment's shareable view
    experiments.experiment_view(page.db, st.query_params[PARAM], can_review=page.can("governor"),
                                can_file=page.can("analyst"), username=page.username)
    experiments.decision_dialogs(page.db, page.username)
    st.stop()

st.subheader("Every experiment")
summaries = experiments.all_experiments(page.db)
if not summaries:
    st.info("No experiment has been filed yet.")
else:
    st.dataframe(experiments.list_table(summaries), hide_index=True, key="exp_list",
                 column_config={"page": st.column_config.LinkColumn("open", display_text="open")})
    labels = {s.experiment_id: f"{', '.join(a.label() for a in s.arms)} · {s.status} · "
                               f"{s.experiment_id[:8]}" for s in summaries}
    st.selectbox("Open an experiment", list(labels), index=None, key="exp_open",
                 format_func=labels.get, on_change=experiments.open_chosen,
                 placeholder="Choose one to see its schedule and results")

st.subheader("🧪 Design a new experiment")
if not page.can("analyst"):
    st.info("🔒 Analysts and above design and file experiments; you can read them here.")
    st.stop()
if st.session_state.get(experiments.FILED_KEY):
    experiments.page_link(st.session_state.pop(experiments.FILED_KEY),
                          "Open the experiment you filed")
live = readers.current(page.db)
st.caption(f"The control starts as the live split **{live.split.label()}**. The figures are "
           "daily: blocks of whole days from midnight measure cleanly.")
experiments.start_form(live.split)
form = experiments.design_inputs()
typed, slots = form["typed"], form["slots"]
# Not an st.form: each input reruns the page, so the checks and the power follow every change.
with core_call(slots):
    design, problems = experiments.check_design(page.db, typed)
    sentence = experiments.show_checks(page.db, design, problems, slots)
ready = design is not None and not problems and bool(typed["reasoning"].strip())
if design is not None and not problems and not ready:
    st.caption("Write the reasoning to enable filing.")
if st.button("📨 File experiment…", type="primary", key="exp_file", disabled=not ready):
    experiments.ask_to_file(typed, sentence)
experiments.file_dialog(page.db, page.username)
