"""Stored decisions against a candidate version, counted: the comparison that the impact
report (a replay of the log) and the shadow report (decisions made alongside) share.

Each decision is counted once by what tells it apart: its stored version, both outcomes,
both criteria statuses and the human verdict. Python walks the distinct combinations
only once, at the end, to fill the matrix, the flips and the agreement with verdicts.
"""

from collections import Counter
from collections.abc import Mapping, Sequence

from app.changes.models import (
    Comparison,
    CriterionFlips,
    DecisionMatrix,
    MatrixRow,
    Status,
    StatusChange,
    VerdictAgreement,
)

_STATUS = {"+": Status.MET, "-": Status.NOT_MET, "?": Status.UNKNOWN}
MET_CODES = {True: "+", False: "-", None: "?"}
OUTCOMES = ("accept", "review", "decline")

# (stored version, stored outcome, stored statuses, new outcome, new statuses, verdict)
Key = tuple[int, str, str, str, str, str | None]


class Tally:
    """Decisions counted by what tells them apart. Statuses are one character a criterion
    (`+`, `-`, `?`) in their version's order (`old_keys[version]`, `new_keys`)."""

    def __init__(self, old_keys: Mapping[int, Sequence[str]], new_keys: Sequence[str]) -> None:
        self.counts: Counter[Key] = Counter()
        self._old = {
            version: {k: i for i, k in enumerate(keys)} for version, keys in old_keys.items()
        }
        self._new_keys = tuple(new_keys)
        self._new = {k: i for i, k in enumerate(new_keys)}
        self._flips: dict[tuple[int, str, str], list[str]] = {}

    def add(self, key: Key, count: int = 1) -> None:
        self.counts[key] += count

    def flipped(self, version: int, old: str, new: str) -> list[str]:
        """The criteria in both versions whose status differs, in the candidate's order."""
        cached = self._flips.get((version, old, new))
        if cached is None:
            where = self._old.get(version, {})
            cached = [
                key
                for key, index in self._new.items()
                if key in where and old[where[key]] != new[index]
            ]
            self._flips[(version, old, new)] = cached
        return cached

    def comparison(self) -> Comparison:
        matrix = {old: dict.fromkeys(OUTCOMES, 0) for old in OUTCOMES}
        changes: dict[str, Counter[tuple[Status, Status]]] = {}
        removed: list[str] = []
        compared = changed = with_verdict = agree_before = agree_after = 0
        for (version, old, old_met, new, new_met, verdict), n in self.counts.items():
            compared += n
            matrix[old][new] += n
            changed += n if old != new else 0
            if verdict is not None:
                with_verdict += n
                agree_before += n if old == verdict else 0
                agree_after += n if new == verdict else 0
            where = self._old.get(version, {})
            for key, index in self._new.items():
                was = _STATUS[old_met[where[key]]] if key in where else Status.ABSENT
                changes.setdefault(key, Counter())[(was, _STATUS[new_met[index]])] += n
            for key, index in where.items():
                if key not in self._new:
                    if key not in changes:
                        removed.append(key)
                    changes.setdefault(key, Counter())[
                        (_STATUS[old_met[index]], Status.ABSENT)
                    ] += n
        order = [*self._new_keys, *removed]
        return Comparison(
            compared=compared,
            changed=changed,
            matrix=DecisionMatrix(**{old: MatrixRow(**row) for old, row in matrix.items()}),
            criteria=[_flips(key, changes.get(key, Counter())) for key in order],
            verdicts=VerdictAgreement(
                with_verdict=with_verdict,
                agree_before=agree_before,
                agree_after=agree_after,
                rate_before=_rate(agree_before, with_verdict),
                rate_after=_rate(agree_after, with_verdict),
            ),
        )


def _flips(key: str, counts: Counter[tuple[Status, Status]]) -> CriterionFlips:
    changes = [
        StatusChange(was=was, now=now, count=n)
        for (was, now), n in sorted(counts.items())
        if was != now
    ]
    flipped = sum(c.count for c in changes if Status.ABSENT not in (c.was, c.now))
    return CriterionFlips(key=key, flipped=flipped, changes=changes)


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)
