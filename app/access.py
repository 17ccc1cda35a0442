"""Who may do what: API keys scoped to a knowledge base (or to all of them) with a role.

- `read`: ask, list, read content, view files.
- `write`: read, plus upload, replace and delete documents.
- `admin`: write, plus the base itself and its keys; an admin key for every base (`*`, or a
  key from DOCRAG_AUTH__API_KEYS) also creates knowledge bases.

Keys are stored as their SHA-256 (they are random, so a slow hash adds nothing), in a record
collection beside the bases, so every API process sharing a Chroma server knows them. With no
key configured and none stored, every caller is an admin of every base, as before keys existed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from pydantic import SecretStr

from app.errors import Forbidden, InvalidRequest, KnowledgeBaseNotFound, Unauthorized
from ingest.knowledge_bases import check_name
from ingest.store import RecordStore

Role = Literal["read", "write", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
ALL_BASES = "*"
KEY_PREFIX = "drk_"
# How long a process trusts what it read of the key store: a revoked key stops working in
# every process within this many seconds.
KEY_CACHE_S = 5.0

_RANK = {role: rank for rank, role in enumerate(ROLES)}


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str  # the first 12 hex digits of the key's hash: shown, and used to revoke it
    knowledge_base: str  # a base's name, or "*" for every base
    role: Role
    label: str = ""
    created_at: str = ""


@dataclass(frozen=True, slots=True)
class Caller:
    """The holder of a request's key: a role on one base, or on every base."""

    knowledge_base: str
    role: Role
    key_id: str | None = None  # None for a configured key or an open service

    def role_on(self, base: str) -> Role | None:
        return self.role if self.knowledge_base in (ALL_BASES, base) else None

    def can(self, base: str, role: Role) -> bool:
        held = self.role_on(base)
        return held is not None and _RANK[held] >= _RANK[role]

    def require(self, base: str, role: Role) -> None:
        """A base the key cannot read is answered as missing, so its name does not leak."""
        if self.role_on(base) is None:
            raise KnowledgeBaseNotFound(base)
        if not self.can(base, role):
            raise Forbidden(
                f"this API key may {_verbs(self.role)} in knowledge base {base!r}; this request "
                f"needs a key with the {role!r} role there (docrag keys create --knowledge-base "
                f"{base} --role {role})"
            )

    @property
    def manages_all(self) -> bool:
        return self.knowledge_base == ALL_BASES and self.role == "admin"


OPEN = Caller(ALL_BASES, "admin")


def _verbs(role: Role) -> str:
    return {
        "read": "only ask and read",
        "write": "read and change documents but not manage the base",
        "admin": "do anything",
    }[role]


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of read, write, admin (not {role!r})")
    return role  # type: ignore[return-value]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    def __init__(self, records: RecordStore, configured: Sequence[SecretStr] = ()) -> None:
        self._records = records
        self._configured = [key.get_secret_value().encode() for key in configured]
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Caller | None]] = {}
        self._stored_at: tuple[float, bool] = (0.0, False)

    def create(self, knowledge_base: str, role: str, label: str = "") -> tuple[ApiKey, str]:
        """A new key and its secret, which is shown once and never stored."""
        if knowledge_base != ALL_BASES:
            check_name(knowledge_base)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        digest = _hash(secret)
        key = ApiKey(
            id=digest[:12],
            knowledge_base=knowledge_base,
            role=check_role(role),
            label=label[:200],
            created_at=datetime.now(UTC).isoformat(),
        )
        self._records.put(
            digest,
            {
                "id": key.id,
                "knowledge_base": key.knowledge_base,
                "role": key.role,
                "label": key.label,
                "created_at": key.created_at,
            },
        )
        self._forget()
        return key, secret

    def all(self) -> list[ApiKey]:
        keys = [
            ApiKey(
                id=str(flat.get("id", digest[:12])),
                knowledge_base=str(flat.get("knowledge_base", "")),
                role=check_role(str(flat.get("role", "read"))),
                label=str(flat.get("label", "")),
                created_at=str(flat.get("created_at", "")),
            )
            for digest, flat in self._records.all().items()
        ]
        return sorted(keys, key=lambda k: (k.created_at, k.id))

    def revoke(self, key_id: str) -> ApiKey | None:
        """Revokes the key with this id (or a unique prefix of it of 6 digits or more)."""
        if len(key_id) < 6:
            return None
        found = [
            (digest, flat)
            for digest, flat in self._records.all().items()
            if str(flat.get("id", "")).startswith(key_id)
        ]
        if len(found) != 1:
            return None
        digest, _ = found[0]
        key = next(k for k in self.all() if digest.startswith(k.id))
        self._records.delete([digest])
        self._forget()
        return key

    def delete_for(self, knowledge_base: str) -> int:
        """Removes the keys of a deleted base (so a new base of that name starts with none)."""
        digests = [
            digest
            for digest, flat in self._records.all().items()
            if flat.get("knowledge_base") == knowledge_base
        ]
        self._records.delete(digests)
        self._forget()
        return len(digests)

    @property
    def required(self) -> bool:
        """Whether requests need a key: one is configured or stored."""
        if self._configured:
            return True
        now = time.monotonic()
        with self._lock:
            checked_at, stored = self._stored_at
            if now - checked_at < KEY_CACHE_S:
                return stored
        stored = self._records.count() > 0
        with self._lock:
            self._stored_at = (now, stored)
        return stored

    def caller(self, authorization: str | None) -> Caller:
        """The caller a request's Authorization header names; raises `Unauthorized`."""
        if not self.required:
            return OPEN
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized(
                "this docrag requires an API key: send the header 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        found = self._lookup(token)
        if found is None:
            raise Unauthorized("the API key is not valid", headers={"WWW-Authenticate": "Bearer"})
        return found

    def _lookup(self, token: str) -> Caller | None:
        given = token.encode()
        matched = False
        for key in self._configured:  # every one compared, in constant time
            matched |= hmac.compare_digest(given, key)
        if matched:
            return OPEN
        digest = _hash(token)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < KEY_CACHE_S:
            return cached[1]
        stored = self._records.get([digest]).get(digest)
        caller = None
        if stored is not None:
            flat = stored[0]
            caller = Caller(
                str(flat.get("knowledge_base", "")),
                check_role(str(flat.get("role", "read"))),
                str(flat.get("id", digest[:12])),
            )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, caller)
        return caller

    def _forget(self) -> None:
        with self._lock:
            self._cache.clear()
            self._stored_at = (0.0, False)
