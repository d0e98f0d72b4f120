"""Aggregating the answers of all departments of a case into one reply. Pure domain logic."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from contracts.events import ReplyPart
from contracts.vocabulary import GIVING_TYPES, REPLY_TYPE_LABELS, ReplyType

# When no department gives anything, the combined decision is the weightiest of their answers.
_PRECEDENCE = (
    ReplyType.NOT_DISCLOSED,
    ReplyType.OTHER_LAW,
    ReplyType.REPEAT,
    ReplyType.NOT_EXIST,
    ReplyType.NOT_THIS_AGENCY,
)
_NUMERALS = "一二三四五六七八九十"


def combined_decision(types: Sequence[ReplyType]) -> ReplyType:
    if not types:
        raise ValueError("a reply needs at least one answer")
    kinds = set(types)
    if kinds == {ReplyType.ALREADY_PUBLIC}:
        return ReplyType.ALREADY_PUBLIC
    if kinds <= {ReplyType.DISCLOSED, ReplyType.ALREADY_PUBLIC}:
        return ReplyType.DISCLOSED
    if kinds & GIVING_TYPES:
        return ReplyType.PARTIALLY_DISCLOSED
    return next(t for t in _PRECEDENCE if t in kinds)


def _numeral(i: int) -> str:
    return _NUMERALS[i] if i < len(_NUMERALS) else str(i + 1)


def order_parts(parts: Sequence[ReplyPart]) -> list[ReplyPart]:
    """A stable order (by department code), so the same answers always give the same reply."""
    return sorted(parts, key=lambda p: (p.dept_code, p.task_id))


def reply_document(
    *,
    tracking_number: str,
    agency_name: str,
    received_on: date,
    issued_on: date,
    parts: Sequence[ReplyPart],
    decision: ReplyType,
) -> str:
    """The consolidated reply (政府信息公开申请答复书), plain text, Simplified Chinese."""
    lines = [
        "政府信息公开申请答复书",
        f"受理编号：{tracking_number}",
        "",
        "申请人：",
        f"    本机关于{received_on:%Y年%m月%d日}收到您提出的政府信息公开申请。"
        f"经本机关{len(parts)}个承办部门分别检索、办理，根据《中华人民共和国政府信息公开条例》"
        "第三十六条的规定，现一并答复如下：",
    ]
    for i, part in enumerate(parts):
        a = part.answer
        text = f"    {_numeral(i)}、{part.dept_name}：{REPLY_TYPE_LABELS[a.reply_type]}。{a.text}"
        if a.reason:
            text += f"（理由：{a.reason}）"
        if a.material_refs:
            text += f"（附件：{'、'.join(a.material_refs)}）"
        lines.append(text)
    lines += [
        f"    综上，本机关对您的申请作出“{REPLY_TYPE_LABELS[decision]}”的答复。",
        "    如对本答复不服，可以自收到本答复之日起60日内依法申请行政复议，"
        "或者自收到本答复之日起6个月内依法提起行政诉讼。",
        "",
        f"{agency_name}",
        f"{issued_on:%Y年%m月%d日}",
    ]
    return "\n".join(lines)
