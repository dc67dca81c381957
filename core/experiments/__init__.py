"""Switchback experiments: two to four splits run in turn, one per block of time, on a balanced
random schedule committed by its hash. The pure statistical core: the design and its schedule
(`design`: rules, drawing, the SHA-256 commitment and its check), what an experiment found
(`analysis`: per-block values, the block-bootstrap interval, the randomisation p-value, the
verdict and the guardrails), and its power before starting (`power`: replays over recorded
figures). Around it, the governed part: the stored experiment with its sealed schedule, its
switches through the allocation log and its block figures (`store`), the services that file,
review, stop, adopt, show and simulate (`service`), and the schedule's step that starts,
switches, guards and finishes them (`switching`), and the blocks that ran, for other pages'
charts (`views`). The pure modules import only `core.base` and
`core.allocation`; the others also governance, proposals (filing, the current row) and the
platform's daily figures."""
