"""The domain: everything the product decides, computes and records, apart from how it is shown.

One package per subdomain, from the bottom up (a package may import only those below it; the
order is written once, as data, in tests/unit/test_import_directions.py, which also refuses any
circle between modules, imports inside functions included):

- `base`: what every package may use: errors, parsing of typed input and its limits, sessions and
  locks, lookups by id, JSON and CSV safety.
- `record`: `protocol_activity`, the record of every decision, and the webhook outbox it feeds.
- `allocation`: what a split is and what the policy allows: the split, exact amounts, the
  policy's bounds, validation, the allocation log's records, the split in force, backtests.
- `governance`: who may act: actors and roles, accounts, the policy store, dashboard sessions,
  API tokens.
- `proposals`: how the split changes and pays out: filing, reviewing, activating, expiring
  proposals; distributions; the seed's `AllocationManager` facade.
- `platform_data`: the platform's own figures: CSV import, demo data, the token roll-up,
  metrics, read queries, outcomes.
- `rebalancer`: the rule engine and the AI advisor, and the run that files their proposals.
- `jobs`: what runs on a clock or after a change: webhook delivery, reports, the schedule.

Above them all, the front doors: `database` (opening the database: migrations, the default
split, the app role) and `__main__` (`python -m core`). Nothing here imports on package import:
`python -m core current` loads only what it reads.
"""
