"""The OpenAPI document as the contract says it: errors are always JSON, whatever the route serves.

FastAPI files every documented response of a route under that route's own media type, so a GeoJSON,
CAP or CSV route would claim its 404 comes as GeoJSON / XML / CSV; and it types a model-backed
non-JSON body as both a string and the model. ``tidy`` rewrites both, so generated clients and the
schema-driven tests read the truth.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_REF = "#/components/schemas/ErrorOut"


def tidy(spec: dict[str, Any]) -> dict[str, Any]:
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                schemas = [c.get("schema", {}) for c in content.values()]
                if status.isdigit() and int(status) >= 400 and any(s.get("$ref") == ERROR_REF for s in schemas):
                    response["content"] = {"application/json": {"schema": {"$ref": ERROR_REF}}}
                    continue
                for media in content.values():
                    schema = media.get("schema", {})
                    if "$ref" in schema and schema.get("type") == "string":
                        del schema["type"]
    return spec


def install(app: FastAPI) -> None:
    """Serve the tidied document at /openapi.json (built once, on first request)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = tidy(get_openapi(title=app.title, version=app.version, description=app.description,
                                                  routes=app.routes))  # fmt: skip
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
