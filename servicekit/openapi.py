"""The OpenAPI document of a service as it really behaves: security schemes from the access table,
the real error bodies (``ValidationErrorOut`` for 422, ``ErrorOut`` for the other 4xx), and the
status codes the shared mechanisms return on every route (401/403 on protected routes, 404 where
a path names something, 415 where a body is taken, 429 where attempts are limited). Routes declare
their own further codes with ``errors(409, ...)``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from contracts.access import ROUTES
from servicekit.validation import ErrorOut, ValidationErrorOut

_DESCRIPTIONS = {
    400: "请求无效", 401: "未认证：缺少或无效的访问令牌", 403: "无权执行此操作", 404: "未找到",
    409: "与当前状态冲突", 413: "内容过大", 415: "不支持的内容类型（须为 application/json）",
    422: "提交的内容有误（逐项说明）", 429: "尝试次数过多，请稍后再试（见 Retry-After）", 503: "服务暂不可用",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for a route's own error codes, with the shared error body."""
    return {code: {"model": ValidationErrorOut if code == 422 else ErrorOut, "description": _DESCRIPTIONS.get(code, "")}
            for code in codes}


def _ref(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def install(app: FastAPI, service: str, issuer: str) -> None:
    table = ROUTES.get(service, {})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        comps = doc.setdefault("components", {})
        schemas = comps.setdefault("schemas", {})
        for model in (ErrorOut, ValidationErrorOut):
            js = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in js.pop("$defs", {}).items():
                schemas[name] = sub
            schemas[model.__name__] = js
        # FastAPI's default 422 schema is not what we send: point it at ours.
        schemas.pop("ValidationError", None)
        schemas["HTTPValidationError"] = {"$ref": "#/components/schemas/ValidationErrorOut"}
        schemes = comps.setdefault("securitySchemes", {})
        schemes["bearer"] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                             "description": "OIDC access token of an officer (roles and department from its claims)"}
        if issuer:
            schemes["oidc"] = {"type": "openIdConnect",
                               "openIdConnectUrl": issuer.rstrip("/") + "/.well-known/openid-configuration"}
        routes = {(m, r.path): r for r in app.routes if isinstance(r, APIRoute) for m in r.methods}
        for path, item in doc.get("paths", {}).items():
            for method, op in item.items():
                acc = table.get((method.upper(), path))
                responses = op.setdefault("responses", {})
                codes: set[int] = set()
                route = routes.get((method.upper(), path))
                has_body = route is not None and route.body_field is not None
                if op.get("parameters") or has_body:
                    codes.add(422)
                if "{" in path:
                    codes.add(404)
                if has_body:
                    codes.add(415)
                if acc is not None and not acc.public:
                    codes |= {401, 403}
                    op["security"] = [{"bearer": []}, *([{"oidc": []}] if issuer else [])]
                    roles = "、".join(f"{r.label_zh}（{r.value}）" for r in sorted(acc.roles))
                    op["description"] = (op.get("description") or "").rstrip() + f"\n\n可调用：{roles}" + (
                        f"；范围：{acc.scope}" if acc.scope else "")
                elif acc is not None:
                    op["security"] = []
                    if acc.scope == "query_code":
                        codes.add(429)
                for code in sorted(codes):
                    body = "ValidationErrorOut" if code == 422 else "ErrorOut"
                    entry = responses.setdefault(str(code), {"description": _DESCRIPTIONS.get(code, "")})
                    entry.update(_ref(body))
                if "422" in responses:
                    responses["422"].update(_ref("ValidationErrorOut"))
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
