"""The criteria sets an evaluation can use, held in memory by each process.

Evaluations resolve their set and compiled version here without a query. The registry
learns about changes in three ways: criteria routes in this process refresh it after they
commit; the decision writer re-reads the (small) criteria_set table inside every write
transaction and hands it over with `apply`, rejecting decisions made with a version that is
no longer current; and a miss (a set or version created elsewhere) reads the database.
"""

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from app.criteria.models import CriteriaSet, CriteriaVersion
from app.engine import CriteriaDefinition, compile_definition
from app.errors import CriteriaSetArchived, NotFound
from app.privacy import Privacy

_SETS = CriteriaSet.__table__  # type: ignore[attr-defined]
_VERSIONS = CriteriaVersion.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class SetState:
    id: int
    slug: str
    current_version: int
    is_default: bool
    is_archived: bool
    shadow_version: int | None = None
    privacy: Privacy = Privacy.FULL


@dataclass(frozen=True, slots=True)
class ResolvedCriteria:
    """A criteria version ready to evaluate with, and how it was chosen."""

    set_id: int
    slug: str
    version: int
    version_id: int
    definition: CriteriaDefinition
    is_pinned: bool
    via_default: bool
    # The set's shadow version and its definition: stored evaluations are decided by it too.
    shadow: tuple[int, CriteriaDefinition] | None = None
    # The set's current privacy, whatever version decides: what the log may keep.
    privacy: Privacy = Privacy.FULL

    def is_current(self, states: dict[int, SetState]) -> bool:
        """Whether an evaluation made with this version may still be stored."""
        state = states.get(self.set_id)
        if state is None or state.is_archived:
            return False
        if self.via_default and not state.is_default:
            return False
        if state.privacy is not self.privacy:
            return False  # decided under another privacy: decide again under the new one
        return self.is_pinned or state.current_version == self.version


class NeedsLoading(Exception):
    """The registry cannot answer from memory; call `CriteriaRegistry.load`."""


class CriteriaRegistry:
    def __init__(self, engine: Engine, max_versions: int = 512) -> None:
        self._engine = engine
        self._max_versions = max_versions
        self._lock = threading.Lock()
        self._by_slug: dict[str, SetState] = {}
        self._default: str | None = None
        self._is_loaded = False
        self._versions: dict[tuple[int, int], tuple[int, CriteriaDefinition]] = {}

    def resolve(self, slug: str | None, number: int | None) -> ResolvedCriteria:
        """Resolve from memory alone; raises NeedsLoading, NotFound or CriteriaSetArchived."""
        if not self._is_loaded:
            raise NeedsLoading
        via_default = slug is None
        if slug is None:
            slug = self._default
            if slug is None:
                raise NotFound("No default criteria set is configured; name one in criteria_set.")
        state = self._by_slug.get(slug)
        if state is None:
            raise NeedsLoading
        if state.is_archived:
            raise CriteriaSetArchived(
                f"Criteria set '{slug}' is archived and cannot be used for new evaluations."
            )
        wanted = number or state.current_version
        version = self._versions.get((state.id, wanted))
        if version is None:
            raise NeedsLoading
        shadow = None
        if state.shadow_version is not None and state.shadow_version != wanted:
            shadowing = self._versions.get((state.id, state.shadow_version))
            if shadowing is None:
                raise NeedsLoading
            shadow = (state.shadow_version, shadowing[1])
        return ResolvedCriteria(
            set_id=state.id,
            slug=slug,
            version=wanted,
            version_id=version[0],
            definition=version[1],
            is_pinned=number is not None,
            via_default=via_default,
            shadow=shadow,
            privacy=state.privacy,
        )

    def load(self, slug: str | None, number: int | None) -> ResolvedCriteria:
        """Read what is missing from the database, then resolve (blocking: run in a thread)."""
        with self._engine.connect() as connection:
            self.refresh(connection)
            try:
                return self.resolve(slug, number)
            except NeedsLoading:
                pass
            state = self._by_slug.get(slug or self._default or "")
            if state is None:
                raise NotFound(f"No criteria set '{slug}'.") from None
            wanted = number or state.current_version
            self._load_version(connection, state, wanted)
            if state.shadow_version is not None:
                self._load_version(connection, state, state.shadow_version)
        return self.resolve(slug, number)

    def _load_version(self, connection: Connection, state: SetState, number: int) -> None:
        if (state.id, number) in self._versions:
            return
        row = connection.execute(
            select(_VERSIONS).where(
                _VERSIONS.c.criteria_set_id == state.id, _VERSIONS.c.version == number
            )
        ).first()
        if row is None:
            raise NotFound(f"Criteria set '{state.slug}' has no version {number}.")
        definition = compile_definition(row.criteria, row.policy, row.params)
        with self._lock:
            if len(self._versions) >= self._max_versions:
                self._versions = {}
            self._versions = {**self._versions, (state.id, number): (row.id, definition)}

    def refresh(self, connection: Connection | None = None) -> dict[int, SetState]:
        """Re-read every set's state (one small query) and adopt it."""
        if connection is None:
            with self._engine.connect() as own:
                return self.refresh(own)
        states = read_states(connection)
        self.apply(states.values())
        return states

    def apply(self, states: Iterable[SetState]) -> None:
        """Adopt set states read elsewhere, e.g. inside a write transaction."""
        by_slug = {state.slug: state for state in states}
        default = next((s.slug for s in by_slug.values() if s.is_default), None)
        with self._lock:
            self._by_slug, self._default, self._is_loaded = by_slug, default, True


def read_states(connection: Connection) -> dict[int, SetState]:
    rows = connection.execute(
        select(
            _SETS.c.id,
            _SETS.c.slug,
            _SETS.c.current_version,
            _SETS.c.is_default,
            _SETS.c.archived_at,
            _SETS.c.shadow_version,
            _SETS.c.privacy,
        )
    )
    return {
        row.id: SetState(
            row.id,
            row.slug,
            row.current_version,
            row.is_default,
            row.archived_at is not None,
            row.shadow_version,
            Privacy(row.privacy),
        )
        for row in rows
    }
