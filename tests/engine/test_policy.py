"""Table-driven and property tests for the pure decision engine (app.engine)."""

import re
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine import (
    CriteriaDefinition,
    Decision,
    Evaluation,
    Mode,
    Source,
    UnknownMode,
    evaluate,
)
from app.engine.policy import decide

from .factories import crit, make_definition, pipu

ACCEPT, REVIEW, DECLINE = Decision.ACCEPT, Decision.REVIEW, Decision.DECLINE
NOT_MET, UNKNOWN_REVIEW = UnknownMode.NOT_MET, UnknownMode.REVIEW
RANK = {DECLINE: 0, REVIEW: 1, ACCEPT: 2}


def yes(*keys: str) -> dict[str, bool]:
    return dict.fromkeys(keys, True)


def no(*keys: str) -> dict[str, bool]:
    return dict.fromkeys(keys, False)


def unknown(*keys: str) -> dict[str, None]:
    return dict.fromkeys(keys, None)


def weighted(*, accept_at: float = 3.5, review_at: float | None = None, required: str = ""):
    """Score-mode set with weights 3, 1.5 and 0.5 (total 5), all exactly representable."""
    return make_definition(
        crit("a", "Alpha", weight=3, required="a" in required),
        crit("b", "Beta", weight=1.5, required="b" in required),
        crit("c", "Gamma", weight=0.5, required="c" in required),
        accept_at=accept_at,
        mode=Mode.SCORE,
        review_at=review_at,
    )


# --------------------------------------------------------------------------------------
# Judging a single criterion
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "met", "source"),
    [
        pytest.param(yes("pertinence"), True, Source.ANSWER, id="yes"),
        pytest.param(no("pertinence"), False, Source.ANSWER, id="no"),
        pytest.param(unknown("pertinence"), None, Source.NONE, id="answered-none"),
        pytest.param({}, None, Source.NONE, id="missing-key"),
        pytest.param(yes("other"), None, Source.NONE, id="only-unrelated-key"),
    ],
)
def test_criterion_result_met_and_source(answers, met, source):
    result = evaluate(pipu(), answers).criteria[0]

    assert result.key == "pertinence"
    assert result.label == "Pertinence"
    assert result.met is met
    assert result.source is source
    assert isinstance(result.reasons, tuple)
    assert result.reasons
    assert all(isinstance(reason, str) and reason for reason in result.reasons)


def test_answered_none_and_missing_key_give_different_reasons():
    answered_none = evaluate(pipu(), unknown("pertinence")).criteria[0]
    missing = evaluate(pipu(), {}).criteria[0]

    assert answered_none.met is missing.met is None
    assert answered_none.source is missing.source is Source.NONE
    assert answered_none.reasons != missing.reasons


def test_yes_and_no_reasons_differ_and_quote_the_question():
    definition = make_definition(crit("a", "Alpha", question="Is it relevant?"), accept_at=1)
    said_yes = evaluate(definition, yes("a")).criteria[0]
    said_no = evaluate(definition, no("a")).criteria[0]

    assert said_yes.reasons != said_no.reasons
    assert any("Is it relevant?" in reason for reason in said_yes.reasons)
    assert any("Is it relevant?" in reason for reason in said_no.reasons)


def test_results_follow_definition_order_regardless_of_answer_order():
    answers = {"utilite": True, "prescription": False, "pertinence": None}

    results = evaluate(pipu(), answers).criteria

    assert [r.key for r in results] == ["pertinence", "interaction", "prescription", "utilite"]
    assert [r.label for r in results] == ["Pertinence", "Interaction", "Prescription", "Utilité"]
    assert [r.met for r in results] == [None, None, False, True]


# --------------------------------------------------------------------------------------
# Count mode
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "decision", "met"),
    [
        pytest.param({}, DECLINE, 0, id="nothing-answered"),
        pytest.param(no("pertinence", "interaction", "prescription", "utilite"), DECLINE, 0,
                     id="all-no"),
        pytest.param(yes("pertinence"), DECLINE, 1, id="one-met"),
        pytest.param({**yes("pertinence"), **no("interaction", "prescription", "utilite")},
                     DECLINE, 1, id="one-met-rest-no"),
        pytest.param(yes("pertinence", "utilite"), ACCEPT, 2, id="two-met-exactly-threshold"),
        pytest.param({**yes("interaction", "prescription"), **no("pertinence", "utilite")},
                     ACCEPT, 2, id="two-met-rest-no"),
        pytest.param(yes("pertinence", "interaction", "prescription"), ACCEPT, 3, id="three-met"),
        pytest.param(yes("pertinence", "interaction", "prescription", "utilite"), ACCEPT, 4,
                     id="all-met"),
    ],
)  # fmt: skip
def test_pipu_count_mode(answers, decision, met):
    evaluation = evaluate(pipu(), answers)

    assert evaluation.decision is decision
    assert evaluation.met == met
    assert evaluation.score == met  # every PIPU weight is 1
    assert evaluation.needed == 2


@pytest.mark.parametrize(
    ("answers", "decision", "met", "score"),
    [
        pytest.param(yes("a"), DECLINE, 1, 5.0, id="heavy-alone-is-still-one"),
        pytest.param(yes("b", "c"), ACCEPT, 2, 0.75, id="two-light-ones-count-two"),
        pytest.param(yes("a", "b", "c"), ACCEPT, 3, 5.75, id="all"),
    ],
)
def test_count_mode_ignores_weights_for_the_decision(answers, decision, met, score):
    definition = make_definition(
        crit("a", weight=5), crit("b", weight=0.5), crit("c", weight=0.25), accept_at=2
    )

    evaluation = evaluate(definition, answers)

    assert evaluation.decision is decision
    assert evaluation.met == met
    assert evaluation.score == score  # score is always the weight sum, even in count mode


@pytest.mark.parametrize(
    ("accept_at", "review_at", "met_keys", "decision"),
    [
        pytest.param(1.5, None, ("pertinence",), DECLINE, id="1.5-needs-two-one-met"),
        pytest.param(1.5, None, ("pertinence", "utilite"), ACCEPT, id="1.5-needs-two-two-met"),
        pytest.param(1.5, 0.5, ("pertinence",), REVIEW, id="review-at-0.5-one-met"),
        pytest.param(1.5, 0.5, (), DECLINE, id="review-at-0.5-none-met"),
    ],
)
def test_count_mode_fractional_thresholds(accept_at, review_at, met_keys, decision):
    definition = pipu(accept_at=accept_at, review_at=review_at)

    evaluation = evaluate(definition, yes(*met_keys))

    assert evaluation.decision is decision
    assert evaluation.needed == accept_at


# --------------------------------------------------------------------------------------
# Score mode, including non-integer weights
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("review_at", "met_keys", "decision", "score"),
    [
        pytest.param(None, (), DECLINE, 0, id="nothing"),
        pytest.param(None, ("a",), DECLINE, 3, id="3-of-3.5"),
        pytest.param(None, ("a", "c"), ACCEPT, 3.5, id="3.5-exactly-threshold"),
        pytest.param(None, ("a", "b"), ACCEPT, 4.5, id="4.5"),
        pytest.param(None, ("b", "c"), DECLINE, 2, id="2-no-band"),
        pytest.param(2, ("b", "c"), REVIEW, 2, id="2-exactly-review-at"),
        pytest.param(2, ("b",), DECLINE, 1.5, id="1.5-below-review-at"),
        pytest.param(2, ("a",), REVIEW, 3, id="3-in-band"),
        pytest.param(2, ("a", "b", "c"), ACCEPT, 5, id="all"),
    ],
)
def test_score_mode(review_at, met_keys, decision, score):
    evaluation = evaluate(weighted(review_at=review_at), yes(*met_keys))

    assert evaluation.decision is decision
    assert evaluation.score == score
    assert evaluation.met == len(met_keys)
    assert evaluation.needed == 3.5


@pytest.mark.parametrize(
    ("weights", "accept_at", "met_keys", "decision", "score"),
    [
        pytest.param((0.25, 0.5, 0.75), 1.25, ("a", "b"), DECLINE, 0.75, id="quarters-0.75<1.25"),
        pytest.param((0.25, 0.5, 0.75), 1.25, ("b", "c"), ACCEPT, 1.25, id="quarters-1.25"),
        pytest.param((0.125, 2.375), 2.5, ("a", "b"), ACCEPT, 2.5, id="eighths-2.5"),
        pytest.param((0.125, 2.375), 2.5, ("b",), DECLINE, 2.375, id="eighths-2.375<2.5"),
    ],
)
def test_score_mode_fractional_weights(weights, accept_at, met_keys, decision, score):
    keys = "abc"[: len(weights)]
    definition = make_definition(
        *(crit(key, weight=weight) for key, weight in zip(keys, weights, strict=True)),
        accept_at=accept_at,
        mode=Mode.SCORE,
    )

    evaluation = evaluate(definition, yes(*met_keys))

    assert evaluation.decision is decision
    assert evaluation.score == score  # binary fractions: exact


def decimal_definition(weights, accept_at):
    return make_definition(
        *(crit(f"k{i}", weight=weight) for i, weight in enumerate(weights)),
        accept_at=accept_at,
        mode=Mode.SCORE,
    )


@pytest.mark.parametrize(
    ("weights", "accept_at"),
    [
        pytest.param((0.3, 0.6), 0.9, id="0.3+0.6>=0.9"),
        pytest.param((0.1, 0.2), 0.3, id="0.1+0.2>=0.3"),
        pytest.param((0.7, 0.1, 0.1, 0.1), 1.0, id="0.7+0.1+0.1+0.1>=1"),
        pytest.param((0.1,) * 8, 0.8, id="eight-tenths>=0.8"),
    ],
)
def test_decimal_weights_summing_to_accept_at_accept(weights, accept_at):
    """Float rounding must not leave a sum that is exactly the threshold a hair short."""
    keys = [f"k{i}" for i in range(len(weights))]

    evaluation = evaluate(decimal_definition(weights, accept_at), yes(*keys))

    assert evaluation.decision is ACCEPT
    assert evaluation.score == pytest.approx(accept_at)
    assert evaluation.summary.startswith(f"Accept: score {accept_at:g} of {accept_at:g} (")
    assert not any("e-" in line for line in evaluation.to_change)


@pytest.mark.parametrize(
    ("weights", "accept_at", "met_keys", "decision", "to_change"),
    [
        pytest.param((0.3, 0.59, 0.02), 0.9, ("k0", "k1"), DECLINE,
                     ("0.01 more points from K2 (0.02) would make it accept",),
                     id="0.89-just-short"),
        pytest.param((0.3, 0.59, 0.02), 0.9, ("k0", "k1", "k2"), ACCEPT,
                     ("losing any one of K0, K1, K2 would make it decline",),
                     id="0.91-every-loss-counts"),
        pytest.param((0.35, 0.35, 0.2), 0.7, ("k0", "k2"), DECLINE,
                     ("0.15 more points from K1 (0.35) would make it accept",),
                     id="0.55-short"),
    ],
)  # fmt: skip
def test_decimal_weights_near_the_threshold(weights, accept_at, met_keys, decision, to_change):
    evaluation = evaluate(decimal_definition(weights, accept_at), yes(*met_keys))

    assert evaluation.decision is decision
    assert evaluation.to_change == to_change


# --------------------------------------------------------------------------------------
# The review band
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("review_at", "met_count", "decision"),
    [
        pytest.param(2, 0, DECLINE, id="0-below-band"),
        pytest.param(2, 1, DECLINE, id="1-below-band"),
        pytest.param(2, 2, REVIEW, id="2-band-floor"),
        pytest.param(2, 3, ACCEPT, id="3-accept"),
        pytest.param(2, 4, ACCEPT, id="4-accept"),
        pytest.param(None, 2, DECLINE, id="no-band-2-declines"),
        pytest.param(0, 0, REVIEW, id="review-at-zero-is-a-real-band"),
        pytest.param(1, 1, REVIEW, id="wide-band-1"),
        pytest.param(1, 2, REVIEW, id="wide-band-2"),
    ],
)
def test_review_band(review_at, met_count, decision):
    keys = ["pertinence", "interaction", "prescription", "utilite"]
    definition = pipu(accept_at=3, review_at=review_at)

    evaluation = evaluate(definition, yes(*keys[:met_count]))

    assert evaluation.decision is decision


# --------------------------------------------------------------------------------------
# Required criteria
# --------------------------------------------------------------------------------------

ALL_BUT_P = ("interaction", "prescription", "utilite")


@pytest.mark.parametrize(
    ("definition", "answers", "decision"),
    [
        pytest.param(pipu(required=("pertinence",)), {**no("pertinence"), **yes(*ALL_BUT_P)},
                     DECLINE, id="required-false-overrides-three-met"),
        pytest.param(pipu(required=("pertinence",), review_at=1),
                     {**no("pertinence"), **yes(*ALL_BUT_P)}, DECLINE,
                     id="required-false-overrides-band"),
        pytest.param(pipu(required=("pertinence",), unknown=UNKNOWN_REVIEW),
                     {**no("pertinence"), **yes("interaction", "prescription"),
                      **unknown("utilite")}, DECLINE, id="required-false-in-review-mode"),
        pytest.param(pipu(required=("pertinence",)), yes(*ALL_BUT_P), REVIEW,
                     id="required-missing-caps-accept-at-review"),
        pytest.param(pipu(required=("pertinence",)), {**unknown("pertinence"),
                                                      **yes(*ALL_BUT_P)}, REVIEW,
                     id="required-none-caps-accept-at-review"),
        pytest.param(pipu(required=("pertinence",)), yes("interaction"), DECLINE,
                     id="required-missing-below-threshold-declines"),
        pytest.param(pipu(required=("pertinence",), review_at=1), yes("interaction"), REVIEW,
                     id="required-missing-in-band-reviews"),
        pytest.param(pipu(required=("pertinence",)), yes("pertinence", "interaction"), ACCEPT,
                     id="required-met-accepts"),
        pytest.param(pipu(required=("pertinence",)), yes("pertinence"), DECLINE,
                     id="required-met-alone-not-enough"),
        pytest.param(pipu(required=("pertinence", "utilite")),
                     {**yes("pertinence", "interaction"), **unknown("utilite")}, REVIEW,
                     id="two-required-one-unknown"),
        pytest.param(pipu(required=("pertinence", "utilite")),
                     {**yes("pertinence", "interaction", "prescription"), **no("utilite")},
                     DECLINE, id="two-required-one-false"),
        pytest.param(pipu(required=("pertinence",), unknown=UNKNOWN_REVIEW),
                     yes("interaction", "prescription"), REVIEW,
                     id="review-mode-required-unknown-could-accept"),
        pytest.param(pipu(required=("pertinence",), unknown=UNKNOWN_REVIEW), {}, REVIEW,
                     id="review-mode-all-unknown-could-accept"),
        pytest.param(pipu(required=("pertinence",), unknown=UNKNOWN_REVIEW),
                     {**no(*ALL_BUT_P)}, DECLINE,
                     id="review-mode-required-unknown-cannot-reach"),
        pytest.param(weighted(required="a"), yes("b", "c"), DECLINE,
                     id="score-required-missing-below-threshold"),
        pytest.param(weighted(required="c"), yes("a", "b"), REVIEW,
                     id="score-required-missing-caps-accept"),
        pytest.param(weighted(required="c"), {**yes("a", "b"), **no("c")}, DECLINE,
                     id="score-required-false"),
    ],
)  # fmt: skip
def test_required_criteria(definition, answers, decision):
    assert evaluate(definition, answers).decision is decision


# --------------------------------------------------------------------------------------
# Unknown handling: "not_met" vs "review"
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept_at", "review_at", "answers", "when_not_met", "when_review"),
    [
        pytest.param(2, None, {**yes("pertinence"), **unknown("interaction"),
                               **no("prescription", "utilite")}, DECLINE, REVIEW,
                     id="one-unknown-could-flip-decline-to-accept"),
        pytest.param(2, None, {}, DECLINE, REVIEW, id="all-missing-could-accept"),
        pytest.param(2, None, {**yes("pertinence", "interaction"), **unknown("prescription")},
                     ACCEPT, ACCEPT, id="already-accepted-either-way"),
        pytest.param(2, None, {**no("pertinence", "interaction", "prescription"),
                               **unknown("utilite")}, DECLINE, DECLINE,
                     id="cannot-reach-either-way"),
        pytest.param(2, None, {**yes("pertinence", "utilite"), **no("interaction",
                                                                    "prescription")},
                     ACCEPT, ACCEPT, id="no-unknowns-same-as-not-met"),
        pytest.param(3, 2, {**yes("pertinence"), **unknown("interaction", "prescription"),
                            **no("utilite")}, DECLINE, REVIEW,
                     id="band-decline-vs-accept"),
        pytest.param(3, 2, {**yes("pertinence"), **unknown("interaction"),
                            **no("prescription", "utilite")}, DECLINE, REVIEW,
                     id="band-decline-vs-review"),
        pytest.param(3, 2, {**yes("pertinence", "interaction"), **unknown("prescription"),
                            **no("utilite")}, REVIEW, REVIEW, id="band-review-vs-accept"),
    ],
)  # fmt: skip
def test_unknown_modes(accept_at, review_at, answers, when_not_met, when_review):
    not_met = pipu(accept_at=accept_at, review_at=review_at, unknown=NOT_MET)
    review = pipu(accept_at=accept_at, review_at=review_at, unknown=UNKNOWN_REVIEW)

    assert evaluate(not_met, answers).decision is when_not_met
    assert evaluate(review, answers).decision is when_review


@pytest.mark.parametrize("unknown_mode", list(UnknownMode), ids=str)
def test_answered_none_and_missing_key_decide_alike(unknown_mode):
    definition = pipu(unknown=unknown_mode, required=("utilite",))
    base = yes("pertinence", "interaction")

    missing = evaluate(definition, base)
    answered_none = evaluate(definition, {**base, **unknown("prescription", "utilite")})

    assert missing.decision is answered_none.decision is REVIEW
    assert missing.met == answered_none.met == 2
    assert missing.summary == answered_none.summary
    assert missing.to_change == answered_none.to_change
    for left, right in zip(missing.criteria[2:], answered_none.criteria[2:], strict=True):
        assert left.met is right.met is None
        assert left.reasons != right.reasons


# --------------------------------------------------------------------------------------
# Evaluation fields: met, score, needed
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "accept_at", "unknown_mode", "answers", "met", "score", "decision"),
    [
        pytest.param(Mode.COUNT, 2, NOT_MET, yes("a", "b"), 2, 2.75, ACCEPT, id="count"),
        pytest.param(Mode.SCORE, 2.75, NOT_MET, yes("a", "b"), 2, 2.75, ACCEPT, id="score"),
        pytest.param(Mode.SCORE, 3, NOT_MET, yes("a", "b"), 2, 2.75, DECLINE,
                     id="score-just-short"),
        pytest.param(Mode.COUNT, 2, UNKNOWN_REVIEW, {**yes("a"), **unknown("b")}, 1, 2.5,
                     REVIEW, id="unknowns-are-not-counted"),
        pytest.param(Mode.SCORE, 2, NOT_MET, {**yes("c"), **no("a", "b")}, 1, 1.0, DECLINE,
                     id="only-met-weights-count"),
    ],
)  # fmt: skip
def test_evaluation_totals(mode, accept_at, unknown_mode, answers, met, score, decision):
    definition = make_definition(
        crit("a", weight=2.5),
        crit("b", weight=0.25),
        crit("c", weight=1),
        accept_at=accept_at,
        mode=mode,
        unknown=unknown_mode,
    )

    evaluation = evaluate(definition, answers)

    assert isinstance(evaluation, Evaluation)
    assert evaluation.met == met
    assert evaluation.score == score
    assert evaluation.needed == accept_at
    assert evaluation.decision is decision


# --------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "answers", "summary"),
    [
        pytest.param(pipu(), yes("pertinence", "utilite"),
                     "Accept: 2 of 4 criteria met (Pertinence, Utilité); 2 needed.",
                     id="pipu-accept"),
        pytest.param(pipu(), {}, "Decline: 0 of 4 criteria met (none); 2 needed.",
                     id="pipu-nothing"),
        pytest.param(pipu(), yes("pertinence"),
                     "Decline: 1 of 4 criteria met (Pertinence); 2 needed.", id="pipu-one"),
        pytest.param(pipu(accept_at=3, review_at=2), yes("pertinence", "interaction"),
                     "Review: 2 of 4 criteria met (Pertinence, Interaction); 3 needed.",
                     id="pipu-band"),
        pytest.param(pipu(required=("pertinence",)), yes("interaction", "prescription")
                     | no("pertinence"),
                     "Decline: 2 of 4 criteria met (Interaction, Prescription); 2 needed; "
                     "required Pertinence not met.", id="required-false"),
        pytest.param(pipu(required=("pertinence",)), yes("interaction", "prescription"),
                     "Review: 2 of 4 criteria met (Interaction, Prescription); 2 needed; "
                     "required Pertinence unknown.", id="required-unknown"),
        pytest.param(pipu(unknown=UNKNOWN_REVIEW),
                     {**yes("pertinence"), **unknown("interaction"),
                      **no("prescription", "utilite")},
                     "Review: 1 of 4 criteria met (Pertinence); 2 needed; "
                     "unknown Interaction could change it.", id="review-mode-unknown"),
        pytest.param(weighted(), yes("a", "c"),
                     "Accept: score 3.5 of 5 (Alpha, Gamma); 3.5 needed.", id="score-accept"),
        pytest.param(weighted(), {}, "Decline: score 0 of 5 (none); 3.5 needed.",
                     id="score-nothing"),
        pytest.param(weighted(review_at=1), yes("b"),
                     "Review: score 1.5 of 5 (Beta); 3.5 needed.", id="score-band"),
    ],
)  # fmt: skip
def test_summary(definition, answers, summary):
    assert evaluate(definition, answers).summary == summary


# --------------------------------------------------------------------------------------
# What would change the decision
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "answers", "expected"),
    [
        # Not accepted: the way to accept.
        pytest.param(pipu(), yes("pertinence"),
                     ("one more of Interaction, Prescription, Utilité would make it accept",),
                     id="one-more-of"),
        pytest.param(pipu(), {},
                     ("two of Pertinence, Interaction, Prescription, Utilité would make it "
                      "accept",), id="two-of-nothing-met"),
        pytest.param(pipu(accept_at=4), {**yes("pertinence", "interaction", "prescription"),
                                          **no("utilite")},
                     ("Utilité would make it accept",), id="single-remaining"),
        pytest.param(pipu(accept_at=4), yes("pertinence", "interaction"),
                     ("all of Prescription, Utilité would make it accept",), id="all-of"),
        pytest.param(pipu(accept_at=3, review_at=2),
                     {**yes("pertinence", "interaction"), **no("prescription", "utilite")},
                     ("one more of Prescription, Utilité would make it accept",),
                     id="band-review-has-no-unknown-hint"),
        pytest.param(pipu(accept_at=4, review_at=1, unknown=UNKNOWN_REVIEW),
                     {**yes("pertinence"), **unknown("interaction"),
                      **no("prescription", "utilite")},
                     ("all of Interaction, Prescription, Utilité would make it accept",),
                     id="review-mode-band-unknown-irrelevant"),
        pytest.param(pipu(required=("pertinence",)),
                     {**no("pertinence"), **yes("interaction", "prescription")},
                     ("Pertinence (required) would make it accept",), id="required-false"),
        pytest.param(pipu(required=("pertinence",)), yes("interaction"),
                     ("Pertinence (required) would make it accept",),
                     id="required-missing-and-enough-else"),
        pytest.param(pipu(required=("pertinence",)), {},
                     ("Pertinence (required) and one more of Interaction, Prescription, "
                      "Utilité would make it accept",), id="required-and-one-more"),
        pytest.param(pipu(accept_at=1.5), {},
                     ("two of Pertinence, Interaction, Prescription, Utilité would make it "
                      "accept",), id="fractional-count-threshold-rounds-up"),
        pytest.param(pipu(accept_at=1.5), yes("utilite"),
                     ("one more of Pertinence, Interaction, Prescription would make it accept",),
                     id="fractional-count-threshold-one-more"),
        pytest.param(weighted(), yes("b"),
                     ("2 more points from Alpha (3), Gamma (0.5) would make it accept",),
                     id="score-points-short"),
        pytest.param(weighted(required="a"), yes("b", "c"),
                     ("Alpha (required) would make it accept",), id="score-required"),
        # Review caused by unknowns: an answer could settle it.
        pytest.param(pipu(unknown=UNKNOWN_REVIEW),
                     {**yes("pertinence"), **unknown("interaction"),
                      **no("prescription", "utilite")},
                     ("an answer to Interaction could settle it",
                      "one more of Interaction, Prescription, Utilité would make it accept"),
                     id="review-mode-one-unknown"),
        pytest.param(pipu(unknown=UNKNOWN_REVIEW), no("prescription", "utilite"),
                     ("an answer to Pertinence, Interaction could settle it",
                      "two of Pertinence, Interaction, Prescription, Utilité would make it "
                      "accept"),
                     id="review-mode-two-unknowns"),
        # Accepted: which single loss would flip it.
        pytest.param(pipu(), yes("pertinence", "utilite"),
                     ("losing any one of Pertinence, Utilité would make it decline",),
                     id="accept-fragile"),
        pytest.param(pipu(), yes("pertinence", "interaction", "prescription"),
                     ("no single criterion lost would change it",), id="accept-robust"),
        pytest.param(pipu(accept_at=3, review_at=2),
                     yes("pertinence", "interaction", "prescription"),
                     ("losing any one of Pertinence, Interaction, Prescription would make it "
                      "review",), id="accept-to-review"),
        pytest.param(pipu(accept_at=3, review_at=2, required=("pertinence",)),
                     yes("pertinence", "interaction", "prescription"),
                     ("losing Pertinence would make it decline",
                      "losing any one of Interaction, Prescription would make it review"),
                     id="accept-mixed-losses"),
        pytest.param(pipu(accept_at=3, review_at=2, required=("utilite",)),
                     yes("pertinence", "interaction", "utilite"),
                     ("losing Utilité would make it decline",
                      "losing any one of Pertinence, Interaction would make it review"),
                     id="accept-mixed-losses-worst-first"),
        pytest.param(pipu(accept_at=1), yes("pertinence"),
                     ("losing Pertinence would make it decline",), id="accept-single-loss"),
        pytest.param(weighted(), yes("a", "c"),
                     ("losing any one of Alpha, Gamma would make it decline",),
                     id="score-accept-fragile"),
        pytest.param(weighted(), yes("a", "b"),
                     ("losing any one of Alpha, Beta would make it decline",),
                     id="score-accept-two-critical"),
        pytest.param(weighted(), yes("a", "b", "c"),
                     ("losing Alpha would make it decline",), id="score-accept-one-critical"),
    ],
)  # fmt: skip
def test_to_change(definition, answers, expected):
    evaluation = evaluate(definition, answers)

    assert evaluation.to_change == expected


@pytest.mark.parametrize(
    ("definition", "answers"),
    [
        pytest.param(pipu(), yes("pertinence"), id="decline"),
        pytest.param(pipu(accept_at=3, review_at=1), yes("pertinence"), id="review-band"),
        pytest.param(pipu(unknown=UNKNOWN_REVIEW), {}, id="review-unknowns"),
        pytest.param(pipu(required=("utilite",)), yes("pertinence", "interaction"),
                     id="review-required-unknown"),
        pytest.param(weighted(review_at=1), yes("b"), id="score-review"),
    ],
)  # fmt: skip
def test_to_change_for_non_accept_ends_with_the_way_to_accept(definition, answers):
    evaluation = evaluate(definition, answers)

    assert evaluation.decision is not ACCEPT
    assert isinstance(evaluation.to_change, tuple)
    assert evaluation.to_change[-1].endswith("would make it accept")


# --------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------

DETERMINISM_CASES = [
    pytest.param(pipu(), {**yes("pertinence"), **no("utilite"), **unknown("prescription")},
                 id="pipu-not-met"),
    pytest.param(pipu(unknown=UNKNOWN_REVIEW, required=("interaction",)),
                 {**yes("pertinence", "utilite"), **unknown("interaction")}, id="pipu-review"),
    pytest.param(weighted(review_at=2), yes("a", "c"), id="score"),
]  # fmt: skip


@pytest.mark.parametrize(("definition", "answers"), DETERMINISM_CASES)
def test_evaluate_is_deterministic(definition, answers):
    first = evaluate(definition, answers)

    for _ in range(5):
        assert evaluate(definition, answers) == first


@pytest.mark.parametrize(("definition", "answers"), DETERMINISM_CASES)
def test_answer_order_and_unrelated_keys_do_not_matter(definition, answers):
    reversed_answers = dict(reversed(list(answers.items())))
    with_noise = {"not-a-criterion": True, **answers, "another": None}

    expected = evaluate(definition, answers)

    assert evaluate(definition, reversed_answers) == expected
    assert evaluate(definition, with_noise) == expected


@pytest.mark.parametrize(("definition", "answers"), DETERMINISM_CASES)
def test_evaluate_does_not_mutate_answers(definition, answers):
    snapshot = dict(answers)

    evaluate(definition, answers)

    assert answers == snapshot


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

MISSING = object()


@st.composite
def definitions(draw, *, allow_required: bool = True, unknown_modes=tuple(UnknownMode)):
    """1-8 criteria with weights in quarter steps (so float sums are exact), valid thresholds."""
    n = draw(st.integers(min_value=1, max_value=8))
    mode = draw(st.sampled_from(list(Mode)))
    quarter_weights = [draw(st.integers(min_value=1, max_value=16)) for _ in range(n)]
    criteria = tuple(
        crit(
            f"c{i}",
            f"C{i}",
            weight=q / 4,
            required=draw(st.booleans()) if allow_required else False,
        )
        for i, q in enumerate(quarter_weights)
    )
    total_quarters = sum(quarter_weights) if mode is Mode.SCORE else 4 * n
    accept_q = draw(st.integers(min_value=1, max_value=total_quarters))
    review_q = draw(st.none() | st.integers(min_value=0, max_value=accept_q - 1))
    return make_definition(
        *criteria,
        accept_at=accept_q / 4,
        mode=mode,
        review_at=None if review_q is None else review_q / 4,
        unknown=draw(st.sampled_from(list(unknown_modes))),
    )


@st.composite
def definitions_and_answers(draw, **kwargs):
    definition = draw(definitions(**kwargs))
    answers = {}
    for criterion in definition.criteria:
        value = draw(st.sampled_from([True, False, None, MISSING]))
        if value is not MISSING:
            answers[criterion.key] = value
    return definition, answers


def statuses_of(definition: CriteriaDefinition, answers) -> dict[str, bool | None]:
    return {c.key: answers.get(c.key) for c in definition.criteria}


def reference_decision(definition: CriteriaDefinition, statuses) -> Decision:
    """The intended semantics, written out plainly with exact arithmetic."""
    policy = definition.policy

    def settled(status):
        if any(c.required and status[c.key] is False for c in definition.criteria):
            return DECLINE
        points = sum(
            (
                Fraction(c.weight) if policy.mode is Mode.SCORE else Fraction(1)
                for c in definition.criteria
                if status[c.key] is True
            ),
            Fraction(0),
        )
        if points >= Fraction(policy.accept_at):
            outcome = ACCEPT
        elif policy.review_at is not None and points >= Fraction(policy.review_at):
            outcome = REVIEW
        else:
            outcome = DECLINE
        if outcome is ACCEPT and any(
            c.required and status[c.key] is None for c in definition.criteria
        ):
            outcome = REVIEW
        return outcome

    if policy.unknown is UnknownMode.NOT_MET:
        return settled(statuses)
    low = settled({k: False if v is None else v for k, v in statuses.items()})
    high = settled({k: True if v is None else v for k, v in statuses.items()})
    return low if low is high else REVIEW


PROPERTY_SETTINGS = settings(max_examples=400, deadline=None, database=None)


@PROPERTY_SETTINGS
@given(definitions_and_answers())
def test_property_evaluate_matches_reference(case):
    definition, answers = case
    statuses = statuses_of(definition, answers)
    expected = reference_decision(definition, statuses)

    evaluation = evaluate(definition, answers)

    assert evaluation.decision is expected
    assert decide(definition, statuses) is expected
    met = [c for c in definition.criteria if statuses[c.key] is True]
    assert evaluation.met == len(met)
    assert evaluation.score == sum(c.weight for c in met)
    assert evaluation.needed == definition.policy.accept_at
    assert [r.key for r in evaluation.criteria] == [c.key for c in definition.criteria]
    for result in evaluation.criteria:
        assert result.met is statuses[result.key]
        assert result.source is (Source.NONE if result.met is None else Source.ANSWER)
        assert result.reasons
        assert all(isinstance(reason, str) and reason for reason in result.reasons)
    assert evaluation.summary.startswith(f"{expected.value.capitalize()}: ")
    assert evaluation.to_change
    assert all(isinstance(line, str) and line for line in evaluation.to_change)
    to_accept = [line for line in evaluation.to_change if line.endswith("would make it accept")]
    assert len(to_accept) == (0 if expected is ACCEPT else 1)


LOSING = re.compile(r"^losing (?:any one of )?(?P<labels>.+) would make it (?P<outcome>\w+)$")


@PROPERTY_SETTINGS
@given(definitions_and_answers())
def test_property_accept_to_change_names_exactly_the_critical_losses(case):
    definition, answers = case
    statuses = statuses_of(definition, answers)
    evaluation = evaluate(definition, answers)
    if evaluation.decision is not ACCEPT:
        return

    expected: dict[str, set[str]] = {}
    for criterion in definition.criteria:
        if statuses[criterion.key] is True:
            outcome = reference_decision(definition, {**statuses, criterion.key: False})
            if outcome is not ACCEPT:
                expected.setdefault(outcome.value, set()).add(criterion.label)

    if not expected:
        assert evaluation.to_change == ("no single criterion lost would change it",)
        return
    named: dict[str, set[str]] = {}
    for line in evaluation.to_change:
        match = LOSING.match(line)
        assert match, line
        named[match["outcome"]] = set(match["labels"].split(", "))
    assert named == expected


@PROPERTY_SETTINGS
@given(definitions_and_answers(allow_required=False, unknown_modes=(NOT_MET,)))
def test_property_meeting_one_more_criterion_never_lowers_the_decision(case):
    definition, answers = case
    statuses = statuses_of(definition, answers)
    before = evaluate(definition, answers).decision

    for criterion in definition.criteria:
        if statuses[criterion.key] is not True:
            after = evaluate(definition, {**answers, criterion.key: True}).decision
            assert RANK[after] >= RANK[before], criterion.key
            assert RANK[decide(definition, {**statuses, criterion.key: True})] >= RANK[before]


@PROPERTY_SETTINGS
@given(definitions_and_answers(unknown_modes=(UNKNOWN_REVIEW,)))
def test_property_review_mode_without_unknowns_equals_not_met_mode(case):
    definition, answers = case
    settled_answers = {c.key: answers.get(c.key) is True for c in definition.criteria}
    not_met = replace(definition, policy=replace(definition.policy, unknown=NOT_MET))

    assert evaluate(definition, settled_answers) == evaluate(not_met, settled_answers)


def test_a_gap_of_one_point_is_singular() -> None:
    definition = make_definition(
        crit("a", "Alpha", weight=2), crit("b", "Beta", weight=1), accept_at=3, mode=Mode.SCORE
    )

    result = evaluate(definition, {"a": True})

    assert result.to_change == ("1 more point from Beta (1) would make it accept",)
