"""Dependencies that routes declare in their signatures."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from app.errors import Unauthorized
from app.parts import Container


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    container.refresh_index()  # after `docrag reindex` switched the index
    return container


ContainerDep = Annotated[Container, Depends(get_container)]

# Declared so that the OpenAPI document (and /docs) shows the bearer scheme.
_bearer = HTTPBearer(auto_error=False)


def api_key_problem(keys: Sequence[SecretStr], authorization: str | None) -> str | None:
    """Why a request's Authorization header does not pass (None when it does, or when no
    keys are configured). Every key is compared in constant time, so the time taken does not
    tell which prefix matched."""
    if not keys:
        return None
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return "this docrag requires an API key: send the header 'Authorization: Bearer <key>'"
    given = token.strip().encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given, key.get_secret_value().encode())
    return None if matched else "the API key is not valid"


def require_api_key(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    problem = api_key_problem(
        container.settings.auth.api_keys,
        f"Bearer {credentials.credentials}" if credentials is not None else None,
    )
    if problem is not None:
        raise Unauthorized(problem, headers={"WWW-Authenticate": "Bearer"})
