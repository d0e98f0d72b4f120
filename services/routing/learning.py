"""Learning from the OGI office's triage decisions (issue #13). Pure: no I/O.

Every triage decision is a labelled example: the description of a case the rules could not route
and what the OGI office decided (the departments it chose, or "not an OGI request"). From the
examples ``propose`` derives rules — a phrase (words of jieba's segmentation, alone or two side by
side) → one department — each with its support (the examples that chose that department alone and
hold the phrase) and its conflicts (examples holding the phrase that chose otherwise, or decided
"not an OGI request"). Nothing proposed acts: a directory admin accepts a proposal, and
``accepted_department`` is then the department's new entry (the phrase a keyword of it), stored as a
new directory version like any change (services/routing/store.py ``DirectoryStore.change``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from services.routing import rules, segmenter
from services.routing.directory import Directory

NOT_OGI = "not-ogi"
MIN_SUPPORT = 2  # examples that chose the department alone
MIN_PRECISION = 0.8  # support / (support + conflicts)
MAX_PHRASE = 8  # characters
MAX_TOKENS = 4  # words of jieba in one phrase
COMMON = 1000  # a word this frequent in jieba's dictionary is too common to be a rule alone

_CJK = re.compile(r"^[\u4e00-\u9fff]+$")
_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"^[A-Za-z]+$")  # DRG付费: letters may be part of a phrase, never one alone
_PLACE_CHARS = frozenset("省州市县区镇乡村组")


@dataclass(frozen=True)
class Example:
    """One triage decision: ``label`` is the sorted department codes, or (``NOT_OGI``,)."""

    case_id: str
    description: str
    label: tuple[str, ...]

    @property
    def single(self) -> str | None:
        return self.label[0] if len(self.label) == 1 and self.label[0] != NOT_OGI else None


@dataclass(frozen=True)
class Proposal:
    proposal_id: str
    phrase: str
    dept_code: str
    dept_name: str
    support: tuple[str, ...]  # case ids
    conflicts: tuple[tuple[str, str], ...] = field(default=())  # (case id, what the OGI office decided)
    harmless: int = 0  # of the conflicts, "not an OGI request" that a not-OGI marker catches before any rule

    @property
    def precision(self) -> float:
        return len(self.support) / (len(self.support) + len(self.conflicts) - self.harmless)

    def as_dict(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "phrase": self.phrase, "dept_code": self.dept_code,
                "dept_name": self.dept_name, "support": list(self.support), "support_count": len(self.support),
                "conflicts": [{"case_id": c, "decided": d} for c, d in self.conflicts],
                "harmless_conflicts": self.harmless, "precision": round(self.precision, 4)}


def proposal_id(phrase: str, dept_code: str) -> str:
    return hashlib.sha256(f"{phrase}\x1f{dept_code}".encode()).hexdigest()[:16]


def example_from(case_id: str, description: str, departments: Iterable[str] = (), not_ogi: bool = False) -> Example:
    label = (NOT_OGI,) if not_ogi else tuple(sorted(set(departments)))
    return Example(case_id=case_id, description=rules.normalize(description), label=label)


def candidates(text: str) -> set[str]:
    """The phrases of a description that could tell a department: runs of up to ``MAX_TOKENS`` words
    (jieba; the shorter words inside a long one count as words too: 服务项目 is 服务 + 项目) of two to
    ``MAX_PHRASE`` Chinese characters, never holding filler, a place or an agency's name, never only
    a generic document word or a stop word, and never one word too common (jieba's dictionary
    frequency ≥ ``COMMON``: 购买, 评估) to tell a department."""
    text = rules.normalize(text)
    toks = segmenter.tokens(text)
    starts = {t[1] for t in toks}  # a phrase starts where a word starts
    ends = {t[2] for t in toks} | {e for _, _, e in segmenter.search_tokens(text)}  # and may end inside one
    # Positions covered by a word that may not be part of a phrase.
    barred = [False] * len(text)
    for w, start, end in toks:
        if not (_CJK.match(w) or _LATIN.match(w)) or rules._FILLER.fullmatch(w) or rules._PLACE.fullmatch(w) \
                or w in _PLACE_CHARS or w.endswith("政府"):
            for i in range(start, end):
                barred[i] = True
    out: set[str] = set()
    points = sorted(starts | ends)
    for a_i, a in enumerate(points):
        if a not in starts:
            continue
        for b in points[a_i + 1:a_i + 1 + MAX_TOKENS]:
            if b not in ends or not 2 <= b - a <= MAX_PHRASE or any(barred[a:b]):
                continue
            phrase = text[a:b]
            if _LATIN.match(phrase) or not _CJK_CHAR.search(phrase):
                continue
            if _stop(phrase) or segmenter.frequency(phrase) >= COMMON:
                continue
            out.add(phrase)
    return out


def _stop(word: str) -> bool:
    return bool(rules._FILLER.fullmatch(word) or rules._GENERIC.fullmatch(word) or rules._PLACE.fullmatch(word)
                or word.endswith("政府") or word in rules._STOPWORDS)


def _known(directory: Directory) -> dict[str, set[str]]:
    """Per department, the strong words it is already matched by (keywords, aliases, name)."""
    return {d.code: {rules.normalize(w) for w in (*d.keywords, *d.aliases, d.name)} for d in directory.departments}


def _weak(directory: Directory) -> dict[str, set[str]]:
    return {d.code: {rules.normalize(w) for w in d.weak_keywords} for d in directory.departments}


def propose(directory: Directory, examples: Iterable[Example], closed: Iterable[str] = (),
            min_support: int = MIN_SUPPORT) -> list[Proposal]:
    """Proposals from the examples, strongest first; ``closed`` are proposal ids already accepted or
    rejected (not proposed again). A phrase already a word of the department is not proposed; of
    nested phrases (one holding the other) of a department, one whose support another one already
    covers is dropped, the longer (more specific, the safer rule) kept first."""
    examples = list(examples)
    closed = set(closed)
    known = _known(directory)
    weak = _weak(directory)
    names = {d.code: d.name for d in directory.departments}
    phrases_of = [candidates(e.description) for e in examples]
    by_phrase: dict[str, list[int]] = {}
    for i, ps in enumerate(phrases_of):
        for p in ps:
            by_phrase.setdefault(p, []).append(i)
    out: list[Proposal] = []
    for phrase, idx in by_phrase.items():
        singles: dict[str, list[int]] = {}
        for i in idx:
            code = examples[i].single
            if code is not None:
                singles.setdefault(code, []).append(i)
        for code, sup in singles.items():
            if code not in names or len(sup) < min_support:
                continue
            if any(w in phrase or phrase in w for words in known.values() for w in words):
                continue  # holds a department's strong word (this one's: matched already; another's: not this)
            if any(phrase in w for words in weak.values() for w in words):
                continue  # part of a weak word: no more telling than it
            conflicts = tuple((examples[i].case_id, ",".join(examples[i].label)) for i in idx
                              if code not in examples[i].label)
            harmless = sum(1 for i in idx if examples[i].label == (NOT_OGI,)
                           and any(m in examples[i].description for m in rules.NOT_OGI_MARKERS))
            pid = proposal_id(phrase, code)
            if pid in closed:
                continue
            prop = Proposal(pid, phrase, code, names[code], tuple(examples[i].case_id for i in sup), conflicts,
                            harmless)
            if prop.precision >= MIN_PRECISION:
                out.append(prop)
    kept: list[Proposal] = []
    for p in sorted(out, key=lambda p: (-len(p.support), len(p.conflicts), -len(p.phrase))):
        if any(k.dept_code == p.dept_code and set(k.support) >= set(p.support)
               and (k.phrase in p.phrase or p.phrase in k.phrase) for k in kept):
            continue
        kept.append(p)
    return sorted(kept, key=lambda p: (-len(p.support), len(p.conflicts), -len(p.phrase), p.phrase))


def excerpt(description: str, phrase: str, width: int = 8) -> str:
    """The phrase in its context (``width`` characters either side), for the admin judging a proposal
    without reading the whole application."""
    text = rules.normalize(description)
    at = text.find(phrase)
    if at < 0:
        return ""
    start, end = max(0, at - width), min(len(text), at + len(phrase) + width)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def accepted_department(directory: Directory, proposal: dict[str, Any]) -> dict[str, Any]:
    """The department's raw entry with the proposal's phrase as a keyword (out of its weak keywords)."""
    agency = next(a for a in directory.raw["agencies"] if a["code"] == directory.agency_code)
    dept = next((d for d in agency.get("departments", []) if d["code"] == proposal["dept_code"]), None)
    if dept is None:
        raise LookupError(proposal["dept_code"])
    new = dict(dept)
    phrase = proposal["phrase"]
    new["keywords"] = [*dept.get("keywords", []), phrase] if phrase not in dept.get("keywords", []) else \
        list(dept["keywords"])
    if phrase in dept.get("weak_keywords", []):
        new["weak_keywords"] = [w for w in dept["weak_keywords"] if w != phrase]
    return new
