"""The OpenAPI's description of a 422 answer, made true to what the routes send.

FastAPI documents every 422 as request validation's list of problems. Some routes also answer 422
with one sentence of their own (a date that is not a Monday, an empty edit, a CSV that is not
UTF-8), so the published `HTTPValidationError.detail` admits both: a client built from the schema
must not fail to read an answer the API really gives.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI


def admit_sentence_details(schema: dict[str, Any]) -> dict[str, Any]:
    """Widen `HTTPValidationError.detail` to a list of problems or one sentence (in place)."""
    found = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
    if found is None:
        return schema
    detail = found["properties"]["detail"]
    if "anyOf" not in detail:
        listed = {k: v for k, v in detail.items() if k not in ("title", "description")}
        found["properties"]["detail"] = {
            "anyOf": [listed, {"type": "string"}],
            "title": detail.get("title", "Detail"),
            "description": "the problems found in the request, or one sentence saying what is wrong",
        }
    return schema


def publish_true_errors(app: FastAPI) -> None:
    """Make `app.openapi()` publish the widened 422 (built once, as FastAPI caches it)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = admit_sentence_details(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
