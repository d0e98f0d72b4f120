from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from contracts.vocabulary import ReplyType


class AnswerIn(BaseModel):
    """A department's answer to its task (条例第三十六条的答复类型)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    dept_code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="答复部门代码")
    reply_type: ReplyType
    reason: str | None = Field(default=None, max_length=500, description="理由（不予公开、部分公开等须填写）")
    text: str = Field(min_length=1, max_length=20000, description="答复内容")
    material_refs: list[str] = Field(default_factory=list, max_length=100)
