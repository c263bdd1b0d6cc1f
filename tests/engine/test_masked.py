"""Masked reasons: what a minimised log keeps of an explanation (app.privacy)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.criteria.files import content_of
from app.criteria.seed import PIPU
from app.engine import compile_definition, evaluate

CANARY = "zq9canary"
PIPU_CONTENT = content_of(PIPU)
DEFINITION = compile_definition(
    PIPU_CONTENT["criteria"], PIPU_CONTENT["policy"], PIPU_CONTENT["params"]
)


def _texts(result) -> list[str]:
    return [
        *result.masked_reasons,
        *(e.masked_reason for e in result.evidence),
    ]


@pytest.mark.parametrize(
    "answers",
    [{}, {"pertinence": True}, {"pertinence": False}, {"pertinence": None}],
    ids=["no-answer", "yes-against-rules", "no", "unknown"],
)
def test_masked_reasons_leave_the_profile_out_and_keep_the_rules(answers):
    profile = {
        "current_title": f"Coach {CANARY} for founders",
        "company": f"{CANARY} consulting",
        "location": f"{CANARY} city",
        "followers": 987654,
        "mutual_connections": 987654,
    }

    outcome = evaluate(DEFINITION, answers, profile, masked=True)

    for result in outcome.criteria:
        assert len(result.masked_reasons) == len(result.reasons)
        for text in _texts(result):
            assert CANARY not in text
            assert "987654" not in text
    shown = [reason for result in outcome.criteria for reason in result.reasons]
    assert any(CANARY in reason for reason in shown)  # the caller's explanation keeps them
    # The rule's own values stay: each masked reason names its attribute.
    evidence = [e for result in outcome.criteria for e in result.evidence]
    assert evidence
    assert all(e.masked_reason.startswith(e.attribute) for e in evidence)


def test_without_masked_no_masked_reasons_are_built():
    outcome = evaluate(DEFINITION, {}, {"current_title": "Coach"})

    assert all(result.masked_reasons == () for result in outcome.criteria)


@settings(max_examples=200, deadline=None)
@given(
    title=st.text(min_size=1, max_size=40),
    mutual=st.integers(min_value=0, max_value=10**9),
)
def test_no_masked_reason_quotes_a_value_of_the_profile(title, mutual):
    marked = f"«{title}»"
    profile = {"current_title": marked, "company": marked, "followers": mutual}

    outcome = evaluate(DEFINITION, {}, profile, masked=True)

    for result in outcome.criteria:
        for text in _texts(result):
            assert marked not in text
