"""Who is acting: every alarm action carries the operator's name.

Until real logins exist the console asks for a name once and sends it in the `X-Operator` header
(URL-encoded, as names are often Chinese). Authentication replaces `current_operator` alone.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Header, HTTPException

MAX_NAME = 120


def current_operator(x_operator: Annotated[str | None, Header()] = None) -> str:
    name = unquote(x_operator or "").strip()
    if not name:
        raise HTTPException(
            400, "say who is acting: send the operator's name in the X-Operator header"
        )
    if len(name) > MAX_NAME:
        raise HTTPException(400, f"an operator name has at most {MAX_NAME} characters")
    return name


OperatorDep = Annotated[str, Depends(current_operator)]
