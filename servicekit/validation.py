"""Field-level validation errors in Simplified Chinese, for every HTTP API (422)."""

from __future__ import annotations

import re

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

_MESSAGES = {
    "missing": "此项为必填项",
    "string_too_short": "内容过短，至少需要 {min_length} 个字符",
    "string_too_long": "内容过长，最多 {max_length} 个字符",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "string_pattern_mismatch": "格式不正确",
    "enum": "取值无效，可选值为：{expected}",
    "literal_error": "取值无效，可选值为：{expected}",
    "date_parsing": "日期格式不正确，应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式不正确，应为 YYYY-MM-DD",
    "date_type": "日期格式不正确，应为 YYYY-MM-DD",
    "url_parsing": "网址格式不正确",
    "url_scheme": "网址须以 http:// 或 https:// 开头",
    "url_type": "网址格式不正确",
    "string_type": "应为文本",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "bool_type": "应为是或否",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "json_invalid": "请求内容不是有效的 JSON",
    "extra_forbidden": "不接受此字段",
}


# What to say of a field a model does not take (``extra_forbidden``), by field name, where a plain
# "不接受此字段" would not tell the caller why (e.g. intake's clerk-only fields on the public form).
EXTRA_FIELD_HINTS: dict[str, str] = {}


class FieldProblem(ValueError):
    """Raised by a model-level validator to blame one field (a dotted path below the model)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def field_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        etype = err.get("type", "")
        ctx = err.get("ctx") or {}
        if etype == "value_error" and "error" in ctx:
            message = str(ctx["error"])
            if isinstance(ctx["error"], FieldProblem):
                loc.extend(ctx["error"].field.split("."))
        elif etype == "value_error" and "reason" in ctx:  # e.g. an e-mail address
            message = "格式不正确"
        elif etype == "extra_forbidden" and loc and loc[-1] in EXTRA_FIELD_HINTS:
            message = EXTRA_FIELD_HINTS[loc[-1]]
        else:
            template = _MESSAGES.get(etype)
            if etype in ("enum", "literal_error") and isinstance(ctx.get("expected"), str):
                # pydantic says "'a', 'b' or 'c'": in Chinese, "'a'、'b'、'c'".
                ctx = {**ctx, "expected": re.sub(r", | or ", "、", ctx["expected"])}
            try:
                message = template.format(**ctx) if template else "输入无效"
            except (KeyError, IndexError):
                message = template or "输入无效"
        out.append({"field": ".".join(loc) or "(body)", "message": message, "type": etype})
    return out


async def validation_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        status_code=422,
        content={"detail": "提交的内容有误，请按提示修改后重新提交", "errors": field_errors(list(exc.errors()))},
    )


# ---------------------------------------------------------------- shared input shapes
# The largest integer any route accepts: what BSON (int64) and JSON consumers (2^53) both hold.
MAX_INT = 2**53 - 1

_CONTROL = {chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"} | {"\x7f"}


def control_character_path(value: Any, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The dotted path of the first string holding a control character (NUL …), or None."""
    if isinstance(value, str):
        return path if any(ch in _CONTROL for ch in value) else None
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and any(ch in _CONTROL for ch in k):
                return (*path, "(key)")
            found = control_character_path(v, (*path, str(k)))
            if found is not None:
                return found
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = control_character_path(v, (*path, str(i)))
            if found is not None:
                return found
    return None


class StrictIn(BaseModel):
    """Base of every HTTP input model: unknown fields refused, no control characters in any text."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_control_characters(cls, data: Any) -> Any:  # noqa: ANN401
        found = control_character_path(data)
        if found is not None:
            raise FieldProblem(".".join(found), "不得包含控制字符（如 NUL）")
        return data


class FieldErrorOut(BaseModel):
    field: str = Field(description="Dotted path of the field, e.g. applicant.id_number; (body) for the whole body")
    message: str = Field(description="What is wrong, in Simplified Chinese")
    type: str = Field(description="Machine-readable kind of the error")


class ValidationErrorOut(BaseModel):
    """The body of every 422: a summary and one message per field."""

    detail: str
    errors: list[FieldErrorOut]


class ErrorOut(BaseModel):
    """The body of every other 4xx (and 503): what went wrong, in Simplified Chinese."""

    detail: str


def problem(status: int, field: str, message: str, etype: str = "value_error") -> JSONResponse:
    """A 4xx in the shape of a 422 body, blaming one field."""
    return JSONResponse(status_code=status, content={
        "detail": "提交的内容有误，请按提示修改后重新提交",
        "errors": [{"field": field, "message": message, "type": etype}]})
