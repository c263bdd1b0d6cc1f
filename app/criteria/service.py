"""Criteria sets: create, version, archive, choose the default, resolve for evaluation."""

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.criteria import repository
from app.criteria.cases import check_cases, coverage, failures, run_cases
from app.criteria.files import content_hash, content_of
from app.criteria.models import (
    CaseSpec,
    CriteriaContent,
    CriteriaSet,
    CriteriaSetCreate,
    CriteriaSetPublic,
    CriteriaSetReplace,
    CriteriaVersion,
    CriteriaVersionPublic,
    CriterionCoverage,
    PendingCase,
)
from app.criteria.seed import PIPU
from app.db import utcnow
from app.engine import CriteriaDefinition, InvalidDefinition, compile_definition
from app.errors import (
    Conflict,
    CriteriaSetArchived,
    FailingCases,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    field_path,
)
from app.etags import etag
from app.etags import if_match as matches
from app.jsonvalues import WIDE_INTEGER_MESSAGE, find_problem, find_wide_integer
from app.privacy import Privacy
from app.webhooks import outbox


def check_rule_trees(content: CriteriaContent, prefix: str = "") -> None:
    """422 for a rule tree that no dump may walk: too deep, NaN, U+0000 (app.jsonvalues).

    Rule trees are free-form JSON until compiled, so they are checked before anything
    serialises them.
    """
    for index, criterion in enumerate(content.criteria):
        found = find_problem(criterion.rules, ("criteria", index, "rules"))
        if found is not None:
            raise InvalidInput([(prefix + field_path(found[0]), found[1])])


def build_definition(content: CriteriaContent, prefix: str = "") -> CriteriaDefinition:
    """Compile validated content into the engine's definition; 422 naming each problem."""
    check_rule_trees(content, prefix)
    dumped = content.model_dump(mode="json")
    found = find_problem(dumped)
    if found is not None:
        raise InvalidInput([(prefix + field_path(found[0]), found[1])])
    wide = find_wide_integer(dumped)
    if wide is not None:
        raise InvalidInput([(prefix + field_path(wide), WIDE_INTEGER_MESSAGE)])
    try:
        return compile_definition(dumped["criteria"], dumped["policy"], content.params)
    except InvalidDefinition as exc:
        raise InvalidInput([(prefix + path, message) for path, message in exc.problems]) from exc


def build_version(
    content: CriteriaContent, prefix: str = ""
) -> tuple[CriteriaDefinition, list[CriterionCoverage]]:
    """Compile `content` and run its cases: 422 naming each problem, or each failing case."""
    definition = build_definition(content, prefix)
    check_cases(content.cases, definition, prefix)
    runs = run_cases(content.cases, definition)
    failed = failures(runs)
    if failed:
        raise FailingCases(failed, prefix)
    return definition, coverage(runs, definition)


def list_sets(session: Session, *, include_archived: bool = False) -> list[CriteriaSetPublic]:
    """The current version of every set, by slug."""
    current = repository.list_current(session, include_archived=include_archived)
    pending = repository.pending_by_set(session, [s.id for s, _ in current if s.id is not None])
    return [
        _public(session, criteria_set, version, pending[criteria_set.id])
        for criteria_set, version in current
        if criteria_set.id is not None
    ]


def get_set(session: Session, slug: str) -> CriteriaSetPublic:
    """The current version of a set, archived or not."""
    criteria_set = _load(session, slug)
    return _public(session, criteria_set, _current_version(session, criteria_set))


def create_set(
    session: Session, body: CriteriaSetCreate, *, default_privacy: Privacy = Privacy.FULL
) -> CriteriaSetPublic:
    """Store a new set as version 1; the first set ever stored becomes the default.

    A body without `privacy` takes `default_privacy` (REFLEXE_PRIVACY_DEFAULT).
    """
    _, covered = build_version(body)
    if repository.get_set(session, body.slug) is not None:
        raise Conflict(f"A criteria set with slug '{body.slug}' already exists.")
    privacy = body.privacy or default_privacy
    body = body.model_copy(update={"privacy": privacy})
    criteria_set = CriteriaSet(
        slug=body.slug,
        current_version=1,
        is_default=not repository.has_any_set(session),
        privacy=privacy,
        retention_days=body.retention_days,
    )
    session.add(criteria_set)
    try:
        session.flush()
        version = _add_version(session, criteria_set, body, 1, covered)
        _announce(session, body.slug, 1, body)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"A criteria set with slug '{body.slug}' already exists.") from exc
    return _public(session, criteria_set, version)


def replace_set(
    session: Session, slug: str, body: CriteriaSetReplace, if_match: str | None
) -> CriteriaSetPublic:
    """Store `body` as the next version of the set, if the client saw the current one."""
    if body.slug is not None and body.slug != slug:
        raise InvalidInput(
            [("slug", f"this set's slug is '{slug}', not '{body.slug}'; a slug never changes")]
        )
    criteria_set = _load(session, slug)
    _check_if_match(if_match, criteria_set)
    _ensure_active(criteria_set)
    content, pending = _with_pending(session, criteria_set, _inheriting(criteria_set, body))
    _, covered = build_version(content)
    current = criteria_set.current_version
    number = _next_number(session, criteria_set)
    advanced = repository.advance_version(
        session,
        criteria_set,
        current,
        number,
        privacy=content.privacy or criteria_set.privacy,
        retention_days=content.retention_days,
    )
    if not advanced:
        raise _stale(slug)
    try:
        version = _add_version(session, criteria_set, content, number, covered)
        _announce(session, slug, number, content)
        repository.delete_pending(session, pending)
        if _promotes_shadow(session, criteria_set, content):
            criteria_set.shadow_version = criteria_set.shadow_since = None
            session.add(criteria_set)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise _stale(slug) from exc
    session.refresh(criteria_set)
    return _public(session, criteria_set, version)


def restore_set(session: Session, slug: str) -> CriteriaSetPublic:
    """Bring an archived set back for new evaluations; a set in use stays as it is."""
    criteria_set = _load(session, slug)
    if criteria_set.archived_at is not None:
        criteria_set.archived_at = None
        session.add(criteria_set)
        session.commit()
        session.refresh(criteria_set)
    return _public(session, criteria_set, _current_version(session, criteria_set))


def archive_set(session: Session, slug: str, if_match: str | None) -> None:
    """Retire a set from new evaluations; its versions stay readable for the log."""
    criteria_set = _load(session, slug)
    _check_if_match(if_match, criteria_set)
    _ensure_active(criteria_set)
    if criteria_set.is_default:
        raise Conflict(f"'{slug}' is the default criteria set; make another set the default first.")
    criteria_set.archived_at = utcnow()
    session.add(criteria_set)
    session.commit()


def make_default(session: Session, slug: str) -> CriteriaSetPublic:
    """Make the set the one used when an evaluation names none."""
    criteria_set = _load(session, slug)
    _ensure_active(criteria_set)
    if not criteria_set.is_default:
        repository.clear_default(session)
        criteria_set.is_default = True
        session.add(criteria_set)
        try:
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            raise Conflict("The default set changed concurrently; try again.") from exc
        session.refresh(criteria_set)
    return _public(session, criteria_set, _current_version(session, criteria_set))


def list_versions(session: Session, slug: str) -> list[CriteriaVersionPublic]:
    """Every version of a set, oldest first."""
    criteria_set = _load(session, slug)
    assert criteria_set.id is not None
    return [
        _version_public(slug, version)
        for version in repository.list_versions(session, criteria_set.id)
    ]


def get_version(session: Session, slug: str, number: int) -> CriteriaVersionPublic:
    """One version of a set."""
    criteria_set = _load(session, slug)
    return _version_public(slug, _load_version(session, criteria_set, number))


def ensure_default_set(
    session: Session, default_privacy: Privacy = Privacy.FULL
) -> CriteriaSetPublic | None:
    """Create PIPU as the default set on a database that has never held a set; the set made."""
    if repository.has_any_set(session):
        return None
    try:
        return create_set(session, PIPU, default_privacy=default_privacy)
    except Conflict:
        return None  # another process seeded it first


# --- helpers ----------------------------------------------------------------


def _load(session: Session, slug: str) -> CriteriaSet:
    criteria_set = repository.get_set(session, slug)
    if criteria_set is None:
        raise NotFound(f"No criteria set '{slug}'.")
    return criteria_set


def _load_version(session: Session, criteria_set: CriteriaSet, number: int) -> CriteriaVersion:
    assert criteria_set.id is not None
    version = repository.get_version(session, criteria_set.id, number)
    if version is None:
        raise NotFound(f"Criteria set '{criteria_set.slug}' has no version {number}.")
    return version


def _current_version(session: Session, criteria_set: CriteriaSet) -> CriteriaVersion:
    return _load_version(session, criteria_set, criteria_set.current_version)


def save_candidate(
    session: Session, criteria_set: CriteriaSet, body: CriteriaContent
) -> CriteriaVersion:
    """Store `body` as the set's next version without making it current (a shadow's
    draft); the pending cases are checked too, and stay pending. The caller commits."""
    _ensure_active(criteria_set)
    content, _ = _with_pending(session, criteria_set, body)
    _, covered = build_version(content)
    try:
        return _add_version(
            session, criteria_set, content, _next_number(session, criteria_set), covered
        )
    except IntegrityError as exc:
        session.rollback()
        raise _stale(criteria_set.slug) from exc


def load_set(session: Session, slug: str) -> CriteriaSet:
    """The set by slug; 404 if there is none."""
    return _load(session, slug)


def load_version(session: Session, criteria_set: CriteriaSet, number: int) -> CriteriaVersion:
    """One version of the set; 404 if it has none by that number."""
    return _load_version(session, criteria_set, number)


def content_of_version(version: CriteriaVersion) -> CriteriaContent:
    """A stored version's content, as the API validates it."""
    return CriteriaContent.model_validate(
        {
            "name": version.name,
            "description": version.description,
            "locale": version.locale,
            "criteria": version.criteria,
            "policy": version.policy,
            "params": version.params,
            "cases": version.cases,
            "privacy": version.privacy,
            "retention_days": version.retention_days,
        }
    )


def _inheriting(criteria_set: CriteriaSet, body: CriteriaSetReplace) -> CriteriaSetReplace:
    """`body`, keeping the set's privacy and retention where it does not name them: leaving
    a field out never stores more, nor longer. An explicit `retention_days: null` returns to
    the deployment's retention."""
    update: dict[str, Any] = {}
    if body.privacy is None:
        update["privacy"] = Privacy(criteria_set.privacy)
    if "retention_days" not in body.model_fields_set:
        update["retention_days"] = criteria_set.retention_days
    return body.model_copy(update=update) if update else body


def _with_pending(
    session: Session, criteria_set: CriteriaSet, body: CriteriaContent
) -> tuple[CriteriaContent, list[PendingCase]]:
    """`body` with the set's pending cases added (a case of the body's with the same name
    replaces one), and the pending rows it takes up."""
    assert criteria_set.id is not None
    pending = repository.list_pending(session, criteria_set.id)
    if not pending:
        return body, []
    names = {case.name for case in body.cases}
    added = [CaseSpec.model_validate(p.case) for p in pending if p.name not in names]
    return body.model_copy(update={"cases": [*body.cases, *added]}), pending


def _promotes_shadow(session: Session, criteria_set: CriteriaSet, content: CriteriaContent) -> bool:
    """Whether the new current version is the shadow's content: the shadow has done its job."""
    if criteria_set.shadow_version is None:
        return False
    shadow = _load_version(session, criteria_set, criteria_set.shadow_version)
    slug = criteria_set.slug
    return content_hash(slug, content) == content_hash(slug, content_of_version(shadow))


def _next_number(session: Session, criteria_set: CriteriaSet) -> int:
    assert criteria_set.id is not None
    return repository.latest_version(session, criteria_set.id) + 1


def _add_version(
    session: Session,
    criteria_set: CriteriaSet,
    body: CriteriaContent,
    number: int,
    covered: list[CriterionCoverage],
) -> CriteriaVersion:
    assert criteria_set.id is not None
    content = content_of(body)
    version = CriteriaVersion(
        criteria_set_id=criteria_set.id,
        version=number,
        name=content["name"],
        description=content["description"],
        locale=content["locale"],
        criteria=content["criteria"],
        policy=content["policy"],
        params=content["params"],
        cases=content["cases"],
        coverage=[c.model_dump() for c in covered],
        privacy=body.privacy or Privacy.FULL,
        retention_days=body.retention_days,
    )
    session.add(version)
    session.flush()
    return version


def _announce(session: Session, slug: str, number: int, content: CriteriaContent) -> None:
    """`criteria.published`, in the transaction that makes the version current."""
    outbox.publish(
        session.connection(), outbox.published_event(slug, number, content_hash(slug, content))
    )


def _check_if_match(if_match: str | None, criteria_set: CriteriaSet) -> None:
    if if_match is None:
        raise PreconditionRequired(
            f"Send If-Match with the ETag of the current version (GET /criteria/"
            f"{criteria_set.slug}) to change the set."
        )
    if not matches(if_match, criteria_set.current_version):
        raise _stale(criteria_set.slug, criteria_set.current_version)


def _stale(slug: str, current: int | None = None) -> PreconditionFailed:
    at = f" is at version {current} ({etag(current)})" if current else " changed meanwhile"
    return PreconditionFailed(f"Criteria set '{slug}'{at}; fetch it again and retry with its ETag.")


def _ensure_active(criteria_set: CriteriaSet) -> None:
    if criteria_set.archived_at is not None:
        raise CriteriaSetArchived(f"Criteria set '{criteria_set.slug}' is archived.")


def _version_public(slug: str, version: CriteriaVersion) -> CriteriaVersionPublic:
    content = content_of_version(version)
    return CriteriaVersionPublic(
        slug=slug,
        **dict(content),
        version=version.version,
        created_at=version.created_at,
        content_hash=content_hash(slug, content),
        coverage=[CriterionCoverage.model_validate(c) for c in version.coverage],
    )


def _public(
    session: Session,
    criteria_set: CriteriaSet,
    version: CriteriaVersion,
    pending: list[PendingCase] | None = None,
) -> CriteriaSetPublic:
    """The set at `version`, with its pending cases (read here unless given)."""
    assert criteria_set.id is not None
    if pending is None:
        pending = repository.list_pending(session, criteria_set.id)
    return CriteriaSetPublic(
        **dict(_version_public(criteria_set.slug, version)),
        is_default=criteria_set.is_default,
        archived_at=criteria_set.archived_at,
        shadow_version=criteria_set.shadow_version,
        pending_cases=[CaseSpec.model_validate(p.case) for p in pending],
    )
