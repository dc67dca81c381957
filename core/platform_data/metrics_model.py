"""The platform metrics the rebalancer reads: the value object and its strict JSON form.

Computed from the database by `core.platform_data.metrics_store.compute_metrics`; read from a file by
`rebalance --metrics FILE`. Keys are those of the CLI contract's `metrics` command.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from core.base.errors import ValidationFailed
from core.base.formatting import measured
from core.base.parsing import MAX_TOKEN_PRICE_USD, MAX_TREASURY_BALANCE_USD, shown

METRIC_KEYS = ("growth_rate_pct", "engagement_score", "dao_balance_usd", "avg_token_price_usd",
               "tokens_launched_7d", "days_of_data")

# Far beyond any real platform; they keep a typo (1e30) out of the rule engine's arithmetic.
# The balance and the price are the bounds the platform's own data is imported under.
METRIC_LIMITS = {"growth_rate_pct": 1e6, "engagement_score": math.inf,
                 "dao_balance_usd": MAX_TREASURY_BALANCE_USD,
                 "avg_token_price_usd": MAX_TOKEN_PRICE_USD, "tokens_launched_7d": 1e9,
                 "days_of_data": 1e5}
# `metrics --json` also prints how the engagement figures were made; a file saved from it is
# read as is (that block is ignored). Any other key is refused: a typo must not pass silently.
IGNORED_KEYS = ("inputs",)


@dataclass(frozen=True)
class PlatformMetrics:
    growth_rate_pct: float  # last 7 days against the previous 7, percent
    engagement_score: float  # 0..100
    dao_balance_usd: Decimal  # latest treasury snapshot
    avg_token_price_usd: float
    tokens_launched_7d: int
    days_of_data: int

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["dao_balance_usd"] = float(self.dao_balance_usd)
        return data

    @classmethod
    def from_json(cls, data: Any) -> "PlatformMetrics":
        """Strict: every key present, numbers only, no NaN, nothing impossible."""
        if not isinstance(data, dict):
            raise ValidationFailed("metrics: must be a JSON object")
        problems: list[str] = [
            f"metrics: unknown key {shown(key, limit=30)} (known: {', '.join(METRIC_KEYS)})"
            for key in data if key not in METRIC_KEYS and key not in IGNORED_KEYS]
        values: dict[str, float] = {}
        for key in METRIC_KEYS:
            if key not in data:
                problems.append(f"{key}: missing")
                continue
            raw = data[key]
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw != raw \
                    or raw in (math.inf, -math.inf):
                problems.append(f"{key}: {raw!r} is not a finite number")
                continue
            # Compared before any float(): a 400-digit JSON integer would overflow one.
            if abs(raw) > METRIC_LIMITS[key]:
                problems.append(f"{key}: {Decimal(raw):.6g} is beyond the plausible maximum "
                                f"{measured(METRIC_LIMITS[key])} (in size)")
                continue
            values[key] = raw
        if "engagement_score" in values and not 0 <= values["engagement_score"] <= 100:
            problems.append(f"engagement_score: {values['engagement_score']} is outside 0..100")
        for key in ("dao_balance_usd", "avg_token_price_usd", "tokens_launched_7d", "days_of_data"):
            if key in values and values[key] < 0:
                problems.append(f"{key}: {values[key]} is negative")
        if "growth_rate_pct" in values and values["growth_rate_pct"] < -100:
            problems.append(f"growth_rate_pct: {values['growth_rate_pct']} is below -100")
        for key in ("tokens_launched_7d", "days_of_data"):
            if key in values and values[key] != int(values[key]):
                problems.append(f"{key}: {values[key]} is not a whole number")
        if problems:
            raise ValidationFailed(*problems)
        return cls(float(values["growth_rate_pct"]), float(values["engagement_score"]),
                   Decimal(str(values["dao_balance_usd"])), float(values["avg_token_price_usd"]),
                   int(values["tokens_launched_7d"]), int(values["days_of_data"]))
