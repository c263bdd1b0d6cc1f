"""Small builders for engine inputs, so tests read as tables rather than boilerplate."""

from app.engine import CriteriaDefinition, Criterion, Mode, Policy, UnknownMode

PIPU_SPECS = (
    ("pertinence", "Pertinence"),
    ("interaction", "Interaction"),
    ("prescription", "Prescription"),
    ("utilite", "Utilité"),
)


def crit(
    key: str,
    label: str | None = None,
    *,
    weight: float = 1.0,
    required: bool = False,
    question: str | None = None,
) -> Criterion:
    """One criterion; the label defaults to the capitalised key, the question to "<Label>?"."""
    label = label if label is not None else key.capitalize()
    return Criterion(
        key=key,
        label=label,
        question=question if question is not None else f"{label}?",
        weight=weight,
        required=required,
    )


def make_definition(
    *criteria_specs: str | Criterion,
    accept_at: float = 2,
    mode: Mode = Mode.COUNT,
    review_at: float | None = None,
    unknown: UnknownMode = UnknownMode.NOT_MET,
) -> CriteriaDefinition:
    """A definition from criteria given as bare keys or as `Criterion` values."""
    criteria = tuple(spec if isinstance(spec, Criterion) else crit(spec) for spec in criteria_specs)
    policy = Policy(accept_at=accept_at, mode=mode, review_at=review_at, unknown=unknown)
    return CriteriaDefinition(criteria=criteria, policy=policy)


def pipu(
    *,
    required: tuple[str, ...] = (),
    accept_at: float = 2,
    review_at: float | None = None,
    unknown: UnknownMode = UnknownMode.NOT_MET,
) -> CriteriaDefinition:
    """The four-criterion PIPU set (count mode, accept at 2), optionally with required keys."""
    unknown_keys = set(required) - {key for key, _ in PIPU_SPECS}
    if unknown_keys:
        raise ValueError(f"not PIPU keys: {sorted(unknown_keys)}")
    return make_definition(
        *(crit(key, label, required=key in required) for key, label in PIPU_SPECS),
        accept_at=accept_at,
        mode=Mode.COUNT,
        review_at=review_at,
        unknown=unknown,
    )


# --- rule trees (JSON form, as stored) ----------------------------------------------

_NO_VALUE = object()


def leaf(
    attribute: str, operator: str, value: object = _NO_VALUE, *, reason: str | None = None
) -> dict[str, object]:
    """A rule leaf in its JSON form; `value` and `reason` are left out unless given."""
    node: dict[str, object] = {"attribute": attribute, "operator": operator}
    if value is not _NO_VALUE:
        node["value"] = value
    if reason is not None:
        node["reason"] = reason
    return node


def criterion_spec(key: str, rules: object = None, **fields: object) -> dict[str, object]:
    """A criterion in the JSON form `compile_definition` takes, with optional rules."""
    spec: dict[str, object] = {"key": key, "label": key.capitalize(), "question": f"{key}?"}
    if rules is not None:
        spec["rules"] = rules
    return {**spec, **fields}
