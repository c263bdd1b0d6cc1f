"""Micro-benchmark: the seeded PIPU rules against a typical profile, next to the floor.

The floor is a hand-written Python function that makes the same twelve checks with the
same semantics (folded text, word boundaries, three-valued results). Each round judges
a fresh batch of distinct profiles, so text-folding caches cannot hide the real cost. The
engine's caches are warm after the first round, as in a running service: evidence of the
values that recur (industries, counts, flags) is reused, while headlines differ in every
round and the 2,000 titles and locations are more than a leaf keeps (1,024).

    .venv/bin/python -m bench.rules_micro [--rounds 15] [--profiles 2000]

Prints the median cost per profile in microseconds for the floor, the compiled rules
(verdicts only) and the full evaluation (verdicts, evidence, decision and explanation).
"""

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from app.criteria.seed import PIPU
from app.engine import compile_definition, evaluate
from app.engine.text import fold, word_string

Profile = dict[str, Any]


def typical_profiles(count: int, salt: int) -> list[Profile]:
    """Distinct profiles; one in five misses an attribute, as real ones do."""
    profiles = [
        {
            "headline": f"Directrice Générale chez Acme {salt}-{i} — growth & digital",
            "current_title": f"Directrice Générale {i}",
            "company": f"Acme {i}",
            "industry": "Software Development" if i % 3 else "Retail",
            "location": f"Lyon {i}, Auvergne-Rhône-Alpes",
            "mutual_connections": i % 9,
            "followers": 40 * (i % 50),
            "has_message": i % 2 == 0,
            "engaged_with_my_posts": False,
            "met_in_person": False,
        }
        for i in range(count)
    ]
    for i, profile in enumerate(profiles):
        if i % 5 == 0:
            del profile[list(profile)[i % len(profile)]]
    return profiles


def make_floor() -> Callable[[Profile], tuple[bool | None, ...]]:
    params = PIPU.params
    industries = frozenset(fold(v) for v in params["target_industries"])  # type: ignore[union-attr]
    keywords = tuple(word_string(k) for k in params["target_keywords"])  # type: ignore[union-attr]
    titles = tuple(word_string(k) for k in params["decision_maker_titles"])  # type: ignore[union-attr]
    companies = frozenset(fold(v) for v in params["target_companies"])  # type: ignore[union-attr]
    regions = tuple(word_string(k) for k in params["target_regions"])  # type: ignore[union-attr]
    min_mutual, min_followers = params["min_mutual_connections"], params["min_followers"]

    def text_has(value: Any, phrases: tuple[str, ...]) -> bool | None:
        if not isinstance(value, str):
            return None
        words = word_string(value)
        return any(p in words for p in phrases)

    def check(p: Profile) -> tuple[bool | None, ...]:
        # Written out by hand, short-circuiting like the compiled `any` groups.
        industry = p.get("industry")
        pertinence: bool | None
        if industry is not None and fold(industry) in industries:
            pertinence = True
        else:
            first = text_has(p.get("headline"), keywords)
            second = first if first is True else text_has(p.get("current_title"), keywords)
            if True in (first, second):
                pertinence = True
            elif industry is None or None in (first, second):
                pertinence = None
            else:
                pertinence = False

        interaction: bool | None = False
        for value, holds in (
            (p.get("mutual_connections"), None),
            (p.get("has_message"), True),
            (p.get("engaged_with_my_posts"), True),
            (p.get("met_in_person"), True),
        ):
            if value is None:
                interaction = None
            elif (value >= min_mutual) if holds is None else (value is True):
                interaction = True
                break

        followers = p.get("followers")
        prescription: bool | None
        if followers is not None and followers >= min_followers:
            prescription = True
        else:
            first = text_has(p.get("headline"), titles)
            second = first if first is True else text_has(p.get("current_title"), titles)
            if True in (first, second):
                prescription = True
            elif followers is None or None in (first, second):
                prescription = None
            else:
                prescription = False

        company = p.get("company")
        utility: bool | None
        if company is not None and fold(company) in companies:
            utility = True
        else:
            region = text_has(p.get("location"), regions)
            if region is True:
                utility = True
            elif company is None or region is None:
                utility = None
            else:
                utility = False
        return pertinence, interaction, prescription, utility

    return check


def median_us(run: Callable[[Profile], object], rounds: int, count: int) -> float:
    samples = []
    for r in range(rounds):
        profiles = typical_profiles(count, salt=id(run) + r)
        start = time.perf_counter()
        for profile in profiles:
            run(profile)
        samples.append((time.perf_counter() - start) / count * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--profiles", type=int, default=2000)
    args = parser.parse_args()

    definition = compile_definition(
        [c.model_dump(mode="json") for c in PIPU.criteria],
        PIPU.policy.model_dump(mode="json"),
        PIPU.params,
    )
    tests = tuple(c.rules.test for c in definition.criteria if c.rules is not None)
    leaves = sum(1 for _ in _leaves(definition))
    floor = make_floor()
    sample = typical_profiles(500, salt=-1)
    engine_verdicts = [tuple(t(p) for t in tests) for p in sample]
    assert engine_verdicts == [floor(p) for p in sample], "the floor must check the same"

    def rules(profile: Profile) -> tuple[bool | None, ...]:
        return tuple(t(profile) for t in tests)

    def full(profile: Profile) -> object:
        return evaluate(definition, {}, profile)

    floor_us = median_us(floor, args.rounds, args.profiles)
    rules_us = median_us(rules, args.rounds, args.profiles)
    full_us = median_us(full, args.rounds, args.profiles)
    print(
        f"PIPU: {len(tests)} criteria, {leaves} leaves; median of {args.rounds} rounds "
        f"of {args.profiles} distinct profiles"
    )
    print(f"floor (hand-written)      {floor_us:7.2f} µs/profile")
    print(f"compiled rules (verdicts) {rules_us:7.2f} µs/profile   ratio {rules_us / floor_us:.2f}")
    print(f"full evaluate()           {full_us:7.2f} µs/profile   ratio {full_us / floor_us:.2f}")


def _leaves(definition: Any) -> Any:
    stack = [c.rules for c in definition.criteria if c.rules is not None]
    while stack:
        node = stack.pop()
        if hasattr(node, "children"):
            stack.extend(node.children)
        else:
            yield node


if __name__ == "__main__":
    main()
