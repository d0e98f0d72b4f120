"""Aggregating the answers of all departments of a case into one reply. Pure domain logic.

- ``check_answer``: an answer is coherent with the Regulations (outcome code of its reply type,
  each withheld part with its own reason for partial disclosure — Art. 37, the responsible agency
  for Art. 36(5)); returns its outcome code.
- ``combined_decision`` / ``overall_outcome``: the decision of the one reply and its outcome code
  (the annual-report row read by the audit statistics).
- ``contradictions``: two departments deciding differently about the same item. An *item* is a
  material reference (``material_refs``), an explicit ``item_keys`` entry, or the ``item_key`` of
  a withheld part; a department's *stance* on an item is ``"withheld:<reason code>"`` if it
  withholds that item in a withheld part, ``"given"`` if its answer gives information (Art. 36(1),
  (2), 37) and names the item, otherwise ``"withheld:<its outcome code>"``. Two different stances
  on one item from two tasks are a contradiction.
- ``readiness``: the reply is ready when every open task is answered and signed off (保密审查)
  and no contradiction is unresolved, or when the OGI office closed the case (missing answers
  stated) and nothing signed-off is contradictory.
- ``reply_document``: the plain-text consolidated reply (also carried in ``reply.issued``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from contracts.decisions import BY_CODE, OUTCOMES, default_outcome
from contracts.events import Answer, MissingAnswer, ReplyPart
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


class AnswerInvalid(ValueError):
    """An answer that contradicts the rules of the Regulations (message in Chinese)."""


def outcomes_of(reply_type: ReplyType) -> list[str]:
    return [o.code for o in OUTCOMES if o.reply_type is reply_type]


def check_answer(answer: Answer) -> str:
    """The answer's outcome code, or ``AnswerInvalid`` saying (in Chinese) what is wrong."""
    codes = outcomes_of(answer.reply_type)
    code = answer.outcome_code
    if code is None:
        if len(codes) != 1:
            raise AnswerInvalid(
                f"答复类型“{REPLY_TYPE_LABELS[answer.reply_type]}”须注明办理结果代码（outcome_code），可选：{'、'.join(codes)}"
            )
        code = codes[0]
    elif code not in codes:
        raise AnswerInvalid(f"办理结果代码 {code} 与答复类型“{REPLY_TYPE_LABELS[answer.reply_type]}”不符，可选：{'、'.join(codes)}")
    if answer.reply_type is ReplyType.PARTIALLY_DISCLOSED:
        if not answer.withheld:
            raise AnswerInvalid("部分公开须逐项说明不予公开的部分及其理由（条例第三十七条）")
        for w in answer.withheld:
            o = BY_CODE.get(w.reason_code)
            if o is None or o.reply_type in GIVING_TYPES:
                raise AnswerInvalid(f"不予公开部分“{w.description}”的理由代码 {w.reason_code} 无效，须为不提供信息的办理结果代码")
    elif answer.withheld:
        raise AnswerInvalid("只有部分公开的答复才列明不予公开的部分")
    if answer.reply_type is ReplyType.NOT_THIS_AGENCY and answer.responsible_agency is None:
        raise AnswerInvalid("不属于本机关负责公开的，须告知负责公开该信息的机关名称和联系方式（条例第三十六条第五项）")
    if answer.reply_type is not ReplyType.NOT_THIS_AGENCY and answer.responsible_agency is not None:
        raise AnswerInvalid("只有“不属于本机关负责公开”的答复才告知负责机关")
    return code


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


def part_outcome(part: ReplyPart) -> str:
    return part.outcome_code or check_answer(part.answer)


def overall_outcome(decision: ReplyType, parts: Sequence[ReplyPart]) -> str:
    """The outcome code of the whole reply: for a refusal, that of the first part (in reply order)
    with the decisive reply type; otherwise the reply type's own outcome."""
    for p in parts:
        if p.answer.reply_type is decision and decision not in GIVING_TYPES:
            return part_outcome(p)
    return default_outcome(decision).code


def _numeral(i: int) -> str:
    return _NUMERALS[i] if i < len(_NUMERALS) else str(i + 1)


def order_parts(parts: Sequence[ReplyPart]) -> list[ReplyPart]:
    """A stable order (by department code), so the same answers always give the same reply."""
    return sorted(parts, key=lambda p: (p.dept_code, p.task_id))


# --- contradictions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stance:
    task_id: str
    dept_code: str
    dept_name: str
    stance: str


@dataclass(frozen=True)
class Contradiction:
    item_key: str
    entries: tuple[Stance, ...]

    @property
    def signature(self) -> str:
        """Identifies this contradiction (the item and who says what): a new stance is a new one."""
        return self.item_key + "|" + ";".join(f"{e.task_id}={e.stance}" for e in self.entries)

    def message(self) -> str:
        said = "；".join(f"{e.dept_name}：{_stance_label(e.stance)}" for e in self.entries)
        return f"各部门对同一事项“{self.item_key}”的答复不一致（{said}），请政府信息公开工作机构协调后再行答复。"


def _stance_label(stance: str) -> str:
    if stance == "given":
        return "予以提供"
    code = stance.split(":", 1)[1]
    o = BY_CODE.get(code)
    return f"不予提供（{o.label}）" if o else stance


def stances(part: ReplyPart) -> dict[str, str]:
    """item key -> the department's stance on it (see the module docstring)."""
    a = part.answer
    code = part_outcome(part)
    out: dict[str, str] = {}
    default = "given" if a.reply_type in GIVING_TYPES else f"withheld:{code}"
    for key in [*a.material_refs, *a.item_keys]:
        out[key] = default
    for w in a.withheld:
        if w.item_key:
            out[w.item_key] = f"withheld:{w.reason_code}"
    return out


def contradictions(parts: Iterable[ReplyPart]) -> list[Contradiction]:
    by_item: dict[str, list[Stance]] = {}
    for p in order_parts(list(parts)):
        for key, s in stances(p).items():
            by_item.setdefault(key, []).append(Stance(p.task_id, p.dept_code, p.dept_name, s))
    return [
        Contradiction(key, tuple(entries))
        for key, entries in sorted(by_item.items())
        if len({e.stance for e in entries}) > 1 and len({e.task_id for e in entries}) > 1
    ]


# --- readiness ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Readiness:
    ready: bool
    unanswered: tuple[str, ...] = ()  # open task ids without an answer
    unsigned: tuple[str, ...] = ()  # answered but without the confidentiality sign-off
    held: tuple[str, ...] = ()  # signatures of unresolved contradictions
    releasable: tuple[str, ...] = field(default=())  # task ids whose answers go into the reply


def readiness(
    open_tasks: Sequence[str],
    signed: Iterable[str],
    answered: Iterable[str],
    unresolved: Sequence[str],
    closed: bool,
    extra_parts: int = 0,
) -> Readiness:
    """``open_tasks``: task ids to answer; ``signed``/``answered``: task ids; ``unresolved``:
    contradiction signatures not yet resolved; ``closed``: the OGI office closed the case;
    ``extra_parts``: parts not from tasks (partial referrals)."""
    signed_s, answered_s = set(signed), set(answered)
    unanswered = tuple(t for t in open_tasks if t not in answered_s)
    unsigned = tuple(t for t in open_tasks if t in answered_s and t not in signed_s)
    releasable = tuple(t for t in open_tasks if t in signed_s)
    complete = not unanswered and not unsigned
    ready = (complete or closed) and not unresolved and (bool(releasable) or extra_parts > 0)
    return Readiness(ready, unanswered, unsigned, tuple(unresolved), releasable)


def missing_statement(missing: Sequence[MissingAnswer]) -> str:
    if not missing:
        return ""
    names = "、".join(m.dept_name for m in missing)
    return f"截至本答复作出之日，{names}尚未答复；其答复作出后，本机关将另行补充答复。"


# --- the plain-text document --------------------------------------------------------------------


def reply_document(
    *,
    tracking_number: str,
    agency_name: str,
    received_on: date,
    issued_on: date,
    parts: Sequence[ReplyPart],
    decision: ReplyType,
    missing: Sequence[MissingAnswer] = (),
    title: str = "政府信息公开申请答复书",
) -> str:
    """The consolidated reply (政府信息公开申请答复书), plain text, Simplified Chinese."""
    lines = [
        title,
        f"受理编号：{tracking_number}",
        "",
        "申请人：",
        f"    本机关于{received_on:%Y年%m月%d日}收到您提出的政府信息公开申请。"
        f"经本机关{len(parts)}个承办部门分别检索、办理，根据《中华人民共和国政府信息公开条例》"
        "第三十六条的规定，现一并答复如下：",
    ]
    for i, part in enumerate(parts):
        a = part.answer
        code = part.outcome_code or (a.outcome_code if a.outcome_code in BY_CODE else None)
        label = REPLY_TYPE_LABELS[a.reply_type]
        if code and BY_CODE[code].reply_type is ReplyType.NOT_DISCLOSED:
            label += f"（{BY_CODE[code].label}）"
        text = f"    {_numeral(i)}、{part.dept_name}：{label}。{a.text}"
        if a.reason:
            text += f"（理由：{a.reason}）"
        if a.material_refs:
            text += f"（附件：{'、'.join(a.material_refs)}）"
        for w in a.withheld:
            o = BY_CODE.get(w.reason_code)
            text += f"（不予公开部分：{w.description}，理由：{o.label if o else w.reason_code}，{w.explanation}）"
        if a.responsible_agency is not None:
            r = a.responsible_agency
            text += f"（负责机关：{r.name}，地址：{r.address}，电话：{r.phone}）"
        lines.append(text)
    if missing:
        lines.append("    " + missing_statement(missing))
    lines += [
        f"    综上，本机关对您的申请作出“{REPLY_TYPE_LABELS[decision]}”的答复。",
        "    如对本答复不服，可以自收到本答复之日起60日内依法申请行政复议，"
        "或者自收到本答复之日起6个月内依法提起行政诉讼。",
        "",
        f"{agency_name}",
        f"{issued_on:%Y年%m月%d日}",
    ]
    return "\n".join(lines)
