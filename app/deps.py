"""Dependencies that routes declare in their signatures."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.container import Container
from app.errors import Unauthorized


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    container.refresh_index()  # after `docrag reindex` switched the index
    return container


ContainerDep = Annotated[Container, Depends(get_container)]

_bearer = HTTPBearer(auto_error=False)


def require_api_key(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    keys = container.settings.auth.api_keys
    if not keys:
        return
    if credentials is None:
        raise Unauthorized(
            "this docrag requires an API key: send the header 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    given = credentials.credentials.encode()
    # Compare against every key so the time taken does not tell which prefix matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given, key.get_secret_value().encode())
    if not matched:
        raise Unauthorized("the API key is not valid", headers={"WWW-Authenticate": "Bearer"})
