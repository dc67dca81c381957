"""What an allocation is and what the policy allows, with no one acting: the four-bucket split
(`split`), exact amounts by largest remainder (`money`), the policy's bounds and tiers (`policy`),
a proposed split checked against them (`validation`), the allocation log's rows as values
(`records`), the split in force read with SQLAlchemy Core (`current`), and backtests (`backtest`).

The policy's *values* live here because validation needs them; who may change them is
`core.governance.policy_store`. May import `core.base` and `core.record`.
"""
