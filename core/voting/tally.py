"""The tally of a proposal's votes, pure and exact, so anyone holding the published snapshot and
the exported signed votes gets the same figures.

* Each address counts once, with its latest vote (the greatest timestamp): a later vote
  replaces an earlier one while voting is open. Two different votes of one address with the
  same timestamp cannot be ordered and are refused (the store never keeps such a pair: a
  replacing vote must be later). `standings` says of every vote whether it is the one counted
  and, for a replaced one, when it was replaced, from that same rule (`latest_votes`): the vote
  list and the tally cannot disagree.
* Weights follow Snapshot's delegation rule (core.voting.snapshot_file.effective_weights).
* The quorum is `quorum_pct` percent of the snapshot's total, fixed when the vote opened
  (OpenZeppelin's GovernorVotesQuorumFraction: changing the policy does not touch open votes).
  For, Against and Abstain all count towards it (Snapshot's quorum; OpenZeppelin counts For and
  Abstain only), so turning out to vote Against cannot keep a vote below its quorum.
* A vote passes when the quorum is met and For is more than Against (a tie fails), as in
  OpenZeppelin's GovernorCountingSimple.

All arithmetic is in whole base units (integers), so nothing rounds; the percentage is applied
by cross-multiplying: (for + against + abstain) x 100 >= total x pct.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from core.allocation.policy import DEFAULT_VOTE_QUORUM_PCT
from core.base.errors import ValidationFailed
from core.base.formatting import decimal_text
from core.base.parsing import to_decimal
from core.voting.snapshot_file import UNIT, Snapshot, effective_weights, units_to_decimal
from core.voting.typed_data import ABSTAIN, AGAINST, FOR, SUPPORTS

DEFAULT_QUORUM_PCT = DEFAULT_VOTE_QUORUM_PCT  # the policy's vote_quorum_pct default
MIN_QUORUM_PCT, MAX_QUORUM_PCT = Decimal(0), Decimal(100)
QUORUM_PCT_PLACES = 2  # 2.5% is a quorum people set; 2.4999% is a typo
PERCENT = 100
# The quorum is total x pct / 100; with pct's places made whole it is total x (pct x 10^places)
# / QUORUM_SCALE, a fraction compared by cross-multiplying, so nothing is ever rounded.
QUORUM_SCALE = PERCENT * 10 ** QUORUM_PCT_PLACES


class CastVote(Protocol):
    """What the tally reads of a vote (core.voting.typed_data.Vote, or a stored row)."""

    @property
    def address(self) -> str: ...
    @property
    def support(self) -> str: ...
    @property
    def timestamp(self) -> int: ...


@dataclass(frozen=True)
class Tally:
    """Sums in base units; the quorum as the exact fraction quorum_numerator / QUORUM_SCALE
    base units (total x pct, with pct's places made whole)."""

    for_units: int
    against_units: int
    abstain_units: int
    quorum_numerator: int
    voters: int
    quorum_pct: Decimal

    @property
    def for_(self) -> Decimal:
        return units_to_decimal(self.for_units)

    @property
    def against(self) -> Decimal:
        return units_to_decimal(self.against_units)

    @property
    def abstain(self) -> Decimal:
        return units_to_decimal(self.abstain_units)

    @property
    def turnout_units(self) -> int:
        return self.for_units + self.against_units + self.abstain_units

    @property
    def quorum(self) -> Decimal:
        """The quorum in tokens, exactly: a fraction whose denominator is a power of ten, written
        out digit by digit (never through Decimal division, which rounds to 28 digits)."""
        denominator = QUORUM_SCALE * UNIT
        whole, rest = divmod(self.quorum_numerator, denominator)
        places = len(str(denominator)) - 1
        fraction = str(rest).rjust(places, "0").rstrip("0")
        return Decimal(f"{whole}.{fraction}" if fraction else str(whole))

    @property
    def quorum_met(self) -> bool:
        return self.turnout_units * QUORUM_SCALE >= self.quorum_numerator

    @property
    def passed(self) -> bool:
        return self.quorum_met and self.for_units > self.against_units

    def as_json(self) -> dict[str, Any]:
        return {"for": decimal_text(self.for_), "against": decimal_text(self.against),
                "abstain": decimal_text(self.abstain), "quorum": decimal_text(self.quorum),
                "quorum_met": self.quorum_met, "passed": self.passed, "voters": self.voters}


def parse_quorum_pct(value: Any, field: str = "vote_quorum_pct") -> Decimal:
    try:
        pct = to_decimal(value, field, places=QUORUM_PCT_PLACES)
    except ValueError as error:
        raise ValidationFailed(str(error)) from None
    if not MIN_QUORUM_PCT <= pct <= MAX_QUORUM_PCT:
        raise ValidationFailed(f"{field}: {decimal_text(pct)} is outside "
                               f"{MIN_QUORUM_PCT}..{MAX_QUORUM_PCT} (percent of the snapshot's total)")
    return pct


def latest_votes(votes: Iterable[CastVote], window: tuple[int, int] | None = None
                 ) -> dict[str, CastVote]:
    """Each address's latest vote (greatest timestamp); the same vote twice is one vote. With a
    `window` (opens, closes in unix seconds, both included), votes timestamped outside it do not
    count: a recount from an export applies the period the store applied when it took them."""
    latest: dict[str, CastVote] = {}
    for vote in votes:
        if window is not None and not window[0] <= vote.timestamp <= window[1]:
            continue
        if vote.support not in SUPPORTS:
            raise ValidationFailed(f"support: {vote.support!r} is not one of {', '.join(SUPPORTS)}")
        held = latest.get(vote.address)
        if held is None or vote.timestamp > held.timestamp:
            latest[vote.address] = vote
        elif vote.timestamp == held.timestamp and vote.support != held.support:
            raise ValidationFailed(
                f"votes: {vote.address} voted {held.support} and {vote.support} at the same "
                f"timestamp {vote.timestamp}; which came later cannot be told")
    return latest


@dataclass(frozen=True, slots=True)
class Standing:
    """Where one cast vote stands: whether the tally counts it and, for one a later vote of the
    same address replaced, that vote's timestamp (unix seconds, as `timestamp` is)."""

    counts: bool
    replaced_at: int | None

    def as_json(self) -> dict[str, Any]:
        return {"counts": self.counts, "replaced_at": self.replaced_at}


def standings(votes: Sequence[CastVote], window: tuple[int, int] | None = None
              ) -> list[Standing]:
    """The standing of each of `votes`, in their order: it counts when it is the vote
    `latest_votes` keeps for its address (so the list and the tally can never disagree);
    otherwise it was replaced by the address's next later vote, at that vote's timestamp (none
    for a vote outside `window`, which is simply not counted)."""
    counted = latest_votes(votes, window)
    times: dict[str, list[int]] = defaultdict(list)
    for vote in votes:
        if window is None or window[0] <= vote.timestamp <= window[1]:
            times[vote.address].append(vote.timestamp)
    for moments in times.values():
        moments.sort()
    result = []
    for vote in votes:
        if counted.get(vote.address) is vote:
            result.append(Standing(True, None))
            continue
        later = times.get(vote.address, [])
        index = bisect_right(later, vote.timestamp)
        inside = window is None or window[0] <= vote.timestamp <= window[1]
        result.append(Standing(False, later[index] if inside and index < len(later) else None))
    return result


def tally(votes: Iterable[CastVote], weight_units: Mapping[str, int], total_units: int,
          quorum_pct: Decimal = DEFAULT_QUORUM_PCT, window: tuple[int, int] | None = None
          ) -> Tally:
    """The result of `votes` given each voter's effective weight in base units (voters missing
    from `weight_units` count 0), the snapshot's total in base units and the quorum percentage."""
    pct = parse_quorum_pct(quorum_pct)
    sums = {FOR: 0, AGAINST: 0, ABSTAIN: 0}
    counted = latest_votes(votes, window)
    for address, vote in counted.items():
        sums[vote.support] += weight_units.get(address, 0)
    numerator = total_units * int(pct.scaleb(QUORUM_PCT_PLACES))  # exact: pct has <= those places
    return Tally(sums[FOR], sums[AGAINST], sums[ABSTAIN], numerator, len(counted), pct)


def tally_snapshot(votes: Iterable[CastVote], snapshot: Snapshot,
                   quorum_pct: Decimal = DEFAULT_QUORUM_PCT,
                   window: tuple[int, int] | None = None) -> Tally:
    """The tally of `votes` against a snapshot: latest vote per address (inside `window`),
    Snapshot's delegation, the snapshot's total."""
    counted = latest_votes(votes, window)
    weights = effective_weights(snapshot.weight_units, snapshot.delegates, counted.keys())
    return tally(counted.values(), {a: int(w) for a, w in weights.items()},
                 snapshot.total_units, quorum_pct)

