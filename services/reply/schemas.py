"""HTTP bodies of the reply service (departments and the OGI office)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from contracts.events import Answer, ConfidentialityReview, ResponsibleAgencyRef, WithheldItem
from contracts.vocabulary import ReplyType


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReviewIn(_In):
    """The confidentiality review (保密审查) sign-off."""

    reviewer: str = Field(min_length=1, max_length=100, description="审查人")
    reviewed_at: datetime | None = Field(default=None, description="审查时间（默认：现在）")

    def review(self, now: datetime) -> ConfidentialityReview:
        return ConfidentialityReview(reviewer=self.reviewer, reviewed_at=self.reviewed_at or now)


class AnswerIn(_In):
    """A department's answer to its task (条例第三十六条的答复类型)."""

    dept_code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="答复部门代码")
    reply_type: ReplyType
    outcome_code: str | None = Field(default=None, description="办理结果代码（contracts.decisions）")
    reason: str | None = Field(default=None, max_length=500, description="理由（不予公开、部分公开等须填写）")
    text: str = Field(min_length=1, max_length=20000, description="答复内容")
    material_refs: list[str] = Field(default_factory=list, max_length=100)
    withheld: list[WithheldItem] = Field(default_factory=list, max_length=100, description="部分公开：不予公开的各部分及理由")
    item_keys: list[str] = Field(default_factory=list, max_length=100, description="所涉事项标识")
    responsible_agency: ResponsibleAgencyRef | None = Field(default=None, description="不属于本机关负责公开时的负责机关")
    review: ReviewIn | None = Field(default=None, description="保密审查签署；缺少时答复为草稿，不能发出")

    def answer(self) -> Answer:
        return Answer(reply_type=self.reply_type, outcome_code=self.outcome_code, reason=self.reason, text=self.text,
                      material_refs=self.material_refs, withheld=self.withheld, item_keys=self.item_keys,
                      responsible_agency=self.responsible_agency)


class SignOffIn(ReviewIn):
    dept_code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")


class CloseIn(_In):
    reason: str = Field(min_length=1, max_length=500, description="结案理由")


class ResolveIn(_In):
    note: str = Field(min_length=1, max_length=1000, description="协调结果")
    reopen: list[str] = Field(default_factory=list, description="退回重新答复的任务")
