"""Bounds on platform data: what a real platform can hold, far beyond any real value.

Written once here, where both the database's CHECK constraints (db/models.py, migration 0007)
and core's import validation (core/base/parsing.py) read them: an import refuses what the database
would refuse, and raw SQL cannot insert what an import would refuse. Without them two finite
but absurd prices (1e308) overflowed every aggregate: PostgreSQL's avg() failed outright and
SQLite's returned infinity, which is not JSON.
"""

from __future__ import annotations

MAX_TOKEN_PRICE_USD = 10**9  # a billion dollars per token
MAX_TOKEN_VOLUME_USD = 10**15  # a quadrillion dollars traded in a day (world output is ~1e14 a year)
MAX_TREASURY_BALANCE_USD = 10**15  # a quadrillion dollars in the DAO treasury
MAX_DAILY_COUNT = 2**31 - 1  # wallet connections, trades or page views in a day (int32 columns)
