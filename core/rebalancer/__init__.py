"""The profit-rebalancer: the rule engine, the AI advisor, and the run that files proposals.

`suggestion` (the shared type and `clamp_to_policy`) and `rules` are pure; `advisor` makes one
HTTP call; `service.run_rebalance` is the one writing service. May import every package below
`core.jobs`.
"""

from core.rebalancer.advisor import AdvisorAnswer, AdvisorUnavailable, suggest_by_ai
from core.rebalancer.rules import suggest_by_rules
from core.rebalancer.service import RebalanceResult, run_rebalance, suggest
from core.rebalancer.suggestion import Suggestion, clamp_to_policy

__all__ = ["AdvisorAnswer", "AdvisorUnavailable", "RebalanceResult", "Suggestion",
           "clamp_to_policy", "run_rebalance", "suggest", "suggest_by_ai", "suggest_by_rules"]
