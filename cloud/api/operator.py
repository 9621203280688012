"""Who is acting: every recorded action carries the authenticated user's name (and, for an API
token, the token's name), never a name typed into a form."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from cloud.api.security import PrincipalDep


def current_operator(principal: PrincipalDep) -> str:
    return principal.signature


OperatorDep = Annotated[str, Depends(current_operator)]
