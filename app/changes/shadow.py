"""Shadow versions: a candidate that decides every stored evaluation of its set alongside
the current version, unseen by callers (`evaluations.deciding` stores what it decided), and
the report of how the two compare so far, counted by the database."""

from sqlalchemy import and_, func, select
from sqlmodel import Session

from app.changes.models import ShadowPublic, ShadowReport, ShadowRequest
from app.changes.report import Tally
from app.criteria import repository as criteria_repository
from app.criteria import service as criteria_service
from app.criteria.files import content_hash
from app.criteria.models import CriteriaSet
from app.db import utcnow
from app.errors import Conflict, InvalidInput, NotFound
from app.evaluations.models import EvaluationRecord
from app.reviews.models import Verdict

_E = EvaluationRecord.__table__  # type: ignore[attr-defined]
_V = Verdict.__table__  # type: ignore[attr-defined]


def start(session: Session, slug: str, body: ShadowRequest) -> ShadowPublic:
    """Shadow the set with a stored version, or with a draft saved as its next version (not
    current; its cases must pass). Replaces any shadow the set had."""
    criteria_set = criteria_service.load_set(session, slug)
    if body.criteria is not None:
        if body.criteria.slug is not None and body.criteria.slug != slug:
            raise InvalidInput(
                [("criteria.slug", f"this set's slug is '{slug}', not '{body.criteria.slug}'")]
            )
        number = criteria_service.save_candidate(session, criteria_set, body.criteria).version
    else:
        assert body.version is not None
        number = criteria_service.load_version(session, criteria_set, body.version).version
        if criteria_set.archived_at is not None:
            raise Conflict(f"Criteria set '{slug}' is archived.")
    if number == criteria_set.current_version:
        raise Conflict(
            f"Version {number} is the current version of '{slug}': a shadow must be another."
        )
    criteria_set.shadow_version = number
    criteria_set.shadow_since = utcnow()
    session.add(criteria_set)
    session.commit()
    session.refresh(criteria_set)
    return _public(session, criteria_set)


def stop(session: Session, slug: str) -> None:
    """Stop the set's shadow, if it has one; what it decided stays stored."""
    criteria_set = criteria_service.load_set(session, slug)
    if criteria_set.shadow_version is not None:
        criteria_set.shadow_version = None
        criteria_set.shadow_since = None
        session.add(criteria_set)
        session.commit()


def report(session: Session, slug: str) -> ShadowReport:
    """How the shadow compares with the decisions made so far; 404 without a shadow."""
    criteria_set = criteria_service.load_set(session, slug)
    shadow = _public(session, criteria_set)
    keys = criteria_repository.keys_by_version(session.connection(), slug)
    tally = Tally(keys, keys[shadow.version])
    rows = session.connection().execute(
        select(
            _E.c.criteria_set_version,
            _E.c.decision,
            _E.c.statuses,
            _E.c.shadow_decision,
            _E.c.shadow_statuses,
            _V.c.decision,
            func.count(),
        )
        .select_from(_E.outerjoin(_V, and_(_V.c.evaluation_id == _E.c.id, _V.c.current)))
        .where(_E.c.criteria_set_slug == slug, _E.c.shadow_version == shadow.version)
        .group_by(
            _E.c.criteria_set_version,
            _E.c.decision,
            _E.c.statuses,
            _E.c.shadow_decision,
            _E.c.shadow_statuses,
            _V.c.decision,
        )
    )
    for version, old, statuses, new, new_statuses, verdict, count in rows:
        tally.add((version, old, statuses[::2], new, new_statuses, verdict), count)
    return ShadowReport(**dict(tally.comparison()), shadow=shadow)


def _public(session: Session, criteria_set: CriteriaSet) -> ShadowPublic:
    if criteria_set.shadow_version is None or criteria_set.shadow_since is None:
        raise NotFound(f"Criteria set '{criteria_set.slug}' has no shadow version.")
    version = criteria_service.load_version(session, criteria_set, criteria_set.shadow_version)
    return ShadowPublic(
        slug=criteria_set.slug,
        version=version.version,
        current_version=criteria_set.current_version,
        since=criteria_set.shadow_since,
        content_hash=content_hash(criteria_set.slug, criteria_service.content_of_version(version)),
    )
