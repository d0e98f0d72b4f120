"""HTTP bodies of the reply service (departments and the OGI office).

Who acts is never part of a body: the officer (and the reviewer of a 保密审查) comes from the
verified token. ``dept_code`` may still be sent for clarity; it must then be the token's.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from contracts.events import Answer, ResponsibleAgencyRef, WithheldItem
from contracts.vocabulary import ReplyType
from servicekit.validation import FieldProblem, StrictIn

DEPT_CODE = r"^[a-z0-9][a-z0-9-]{0,62}$"
Ref = Annotated[str, Field(min_length=1, max_length=500)]


class _In(StrictIn):
    model_config = StrictIn.model_config | {"str_strip_whitespace": True}


class AnswerIn(_In):
    """A department's answer to its task (条例第三十六条的答复类型). Recorded as a draft: the
    confidentiality review (保密审查) is a separate step by another reviewer of the department
    (``POST /tasks/{task_id}/review``)."""

    dept_code: str | None = Field(default=None, pattern=DEPT_CODE,
                                  description="答复部门代码（可省略；如填写须与登录身份所属部门一致）")
    reply_type: ReplyType
    outcome_code: str | None = Field(default=None, max_length=80, description="办理结果代码（contracts.decisions）")
    reason: str | None = Field(default=None, max_length=500, description="理由（不予公开、部分公开等须填写）")
    text: str = Field(min_length=1, max_length=20000, description="答复内容")
    material_refs: list[Ref] = Field(default_factory=list, max_length=100)
    withheld: list[WithheldItem] = Field(default_factory=list, max_length=100, description="部分公开：不予公开的各部分及理由")
    item_keys: list[Ref] = Field(default_factory=list, max_length=100, description="所涉事项标识")
    responsible_agency: ResponsibleAgencyRef | None = Field(default=None, description="不属于本机关负责公开时的负责机关")

    @model_validator(mode="before")
    @classmethod
    def _no_inline_review(cls, data: Any) -> Any:  # noqa: ANN401
        if isinstance(data, dict) and "review" in data:
            raise FieldProblem("review", "保密审查须由本部门另一名审查人另行签署（POST /tasks/{task_id}/review），不能随答复一并提交")
        return data

    def answer(self) -> Answer:
        return Answer(reply_type=self.reply_type, outcome_code=self.outcome_code, reason=self.reason, text=self.text,
                      material_refs=self.material_refs, withheld=self.withheld, item_keys=self.item_keys,
                      responsible_agency=self.responsible_agency)


class SignOffIn(_In):
    """The confidentiality review (保密审查) sign-off; the reviewer is the signed-in officer."""

    dept_code: str | None = Field(default=None, pattern=DEPT_CODE,
                                  description="审查部门代码（可省略；如填写须与登录身份所属部门一致）")


class CloseIn(_In):
    reason: str = Field(min_length=1, max_length=500, description="结案理由")


class ResolveIn(_In):
    note: str = Field(min_length=1, max_length=1000, description="协调结果")
    reopen: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=100, description="退回重新答复的任务")
