"""API keys: create, list and revoke them; recognise a key from its token.

A token reads `rfx_<id>_<secret>`: the prefix makes a leaked key easy to spot, the public
id finds the stored row, and only an HMAC-SHA256 of the whole token under the service's
secret key is stored, compared in constant time.
"""

import hashlib
import hmac
import ipaddress
import re
import secrets

from sqlmodel import Session

from app.auth import repository
from app.auth.models import KEY_ID, ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, Role
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.settings import Settings

PREFIX = "rfx_"
TOKEN_PATTERN = re.compile(rf"^{PREFIX}({KEY_ID})_[A-Za-z0-9_-]{{43}}$")
# What any text holding a key (or its start) contains, as found in a URL or a log line.
KEY_SHAPE = re.compile(rf"{PREFIX}{KEY_ID}_")
NO_SECRET = (
    "REFLEXE_SECRET_KEY is not set: API keys are stored as a keyed hash and need it. "
    'Generate one with `python3 -c "import secrets; print(secrets.token_urlsafe(48))"`.'
)


class MissingSecret(RuntimeError):
    """The service was asked to hash keys without a secret key."""


class KeysNeedASecret(Conflict):
    """A key was to be created in development mode, which runs without a secret."""


def secret_of(settings: Settings) -> bytes | None:
    """The secret of the keyed hash, REFLEXE_SECRET_KEY; None in development mode without it.

    Without a secret no key can be created nor recognised: development mode then admits
    only loopback callers without a key. A key hashed under some stand-in secret would stop
    working the day a real one is set.
    """
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    if settings.dev_mode:
        return None
    raise MissingSecret(NO_SECRET)


def key_id_of(token: str) -> str | None:
    """The public id of a well-formed token, or None."""
    match = TOKEN_PATTERN.match(token)
    return match.group(1) if match else None


def hash_token(secret: bytes, token: str) -> str:
    return hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()


def matches(secret: bytes, token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(secret, token), stored_hash)


def create_key(session: Session, secret: bytes | None, body: ApiKeyCreate) -> ApiKeyCreated:
    """Create a key; its token is in the result and nowhere else. 409 without a secret."""
    if secret is None:
        raise KeysNeedASecret(f"API keys cannot be created: {NO_SECRET}")
    key_id = secrets.token_hex(6)
    token = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    key = repository.add(
        session,
        ApiKey(id=key_id, name=body.name, role=body.role.value, hash=hash_token(secret, token)),
    )
    session.commit()
    return ApiKeyCreated(**_public(key).model_dump(), key=token)


def list_keys(session: Session) -> list[ApiKeyPublic]:
    """Every key, newest first, revoked ones included."""
    return [_public(key) for key in repository.list_all(session)]


def get_key(session: Session, key_id: str) -> ApiKeyPublic:
    return _public(_get(session, key_id))


def revoke_key(session: Session, key_id: str, *, keep_an_admin: bool = True) -> ApiKeyPublic:
    """Revoke a key for good. With `keep_an_admin`, the last active admin key stays."""
    key = _get(session, key_id)
    if key.revoked_at is None:
        if keep_an_admin and key.role == Role.admin.value:
            admins = repository.active_admins(session)
            if [admin.id for admin in admins] == [key.id]:
                raise Conflict(
                    f"Key '{key_id}' is the last active admin key; create another admin key "
                    "first (or revoke it with `reflexe keys revoke`)."
                )
        key.revoked_at = utcnow()
        session.add(key)
        session.commit()
    return _public(key)


def has_active_key(session: Session) -> bool:
    return repository.has_active(session)


def _get(session: Session, key_id: str) -> ApiKey:
    key = repository.get(session, key_id)
    if key is None:
        raise NotFound(f"No API key '{key_id}'.")
    return key


def _public(key: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(
        id=key.id,
        name=key.name,
        role=Role(key.role),
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


def is_loopback(host: str) -> bool:
    """Whether `host` (an address, or `localhost`) is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
