"""Switchback experiments: two to four splits run in turn, one per block of time, on a balanced
random schedule committed by its hash. The pure statistical core: the design and its schedule
(`design`: rules, drawing, the SHA-256 commitment and its check), what an experiment found
(`analysis`: per-block values, the block-bootstrap interval, the randomisation p-value, the
verdict and the guardrails), and its power before starting (`power`: replays over recorded
figures). May import `core.base` and `core.allocation`; the platform's figures are handed in."""
