"""Repeat-application detection (Arts. 35 and 36(6) of the 2019 Regulations). Pure domain logic.

A new application is flagged as a possible repeat of an earlier one when both come from the same
applicant (``applicant_ref``) to the same agency and their descriptions match:

1. Normalise the Chinese text: NFKC (full-width letters, digits and spaces → half-width), case
   folding, every punctuation mark, symbol and whitespace removed, and the boilerplate phrases of
   a request (申请公开, 请提供, 政府信息 …) removed, so that only what is asked for remains.
2. Character bigrams of what remains (the usual unit for Chinese text without a word segmenter).
3. Cosine similarity of the two bigram count vectors; a match at ``THRESHOLD`` or above.
4. Numbers decide: if the two descriptions name different numbers (years, document numbers,
   plot numbers …) they ask for different information, whatever the rest says — "2023年预算" is
   not a repeat of "2024年预算". The numbers compared are the maximal runs of ASCII digits after
   normalisation.

The flag is a warning for the officer, who decides (Art. 36(6) applies only to a repeat of an
application that was *answered*; the earlier case's status is passed through for that).

Cost: a submission is compared with every earlier application of its applicant to the agency. The
normalised text is stored with each application at insert (``repeat_text``, ``IntakeStore``) and
is passed in (``Earlier.normalised``), so an earlier description is not normalised again; each
normalised text's bigram vector, norm and numbers are remembered per process (bounded LRU), so it
is not counted again at every later submission.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

THRESHOLD = 0.78

# Phrases that say "please disclose" and not what; removed before comparing (longest first).
BOILERPLATE = tuple(
    sorted(
        (
            "申请人",
            "关于",
            "申请公开",
            "请求公开",
            "要求公开",
            "依申请公开",
            "请予公开",
            "请公开",
            "请提供",
            "要求提供",
            "申请提供",
            "本人",
            "贵单位",
            "贵机关",
            "政府信息",
            "相关信息",
            "有关信息",
            "的信息",
            "复印件",
        ),
        key=len,
        reverse=True,
    )
)
_DIGITS = re.compile(r"\d+")


def normalise(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).casefold()
    t = "".join(ch for ch in t if unicodedata.category(ch)[0] not in "PSZC")
    for phrase in BOILERPLATE:
        t = t.replace(phrase, "")
    return t


def bigrams(text: str) -> Counter[str]:
    if len(text) < 2:
        return Counter([text]) if text else Counter()
    return Counter(text[i : i + 2] for i in range(len(text) - 1))


@dataclass(frozen=True)
class _Profile:
    """What the comparison needs of one normalised text (remembered: ``_profile``)."""

    vector: dict[str, int]
    norm: float
    numbers: tuple[str, ...]


@lru_cache(maxsize=8192)
def _profile(normalised: str) -> _Profile:
    vector = dict(bigrams(normalised))
    return _Profile(vector, math.sqrt(sum(n * n for n in vector.values())),
                    tuple(sorted(str(int(x)) for x in _DIGITS.findall(normalised))))


def _cosine(pa: _Profile, pb: _Profile) -> float:
    if not pa.vector or not pb.vector:
        return 0.0
    vb = pb.vector
    dot = sum(n * vb.get(g, 0) for g, n in pa.vector.items())
    return dot / (pa.norm * pb.norm)


def similarity(a: str, b: str) -> float:
    """Cosine similarity of the bigram vectors of two normalised descriptions (0…1)."""
    return _cosine(_profile(normalise(a)), _profile(normalise(b)))


def numbers(text: str) -> list[str]:
    """The numbers a description names, as a sorted list (leading zeros dropped)."""
    return list(_profile(normalise(text)).numbers)


@dataclass(frozen=True)
class Earlier:
    case_id: str
    applicant_ref: str
    agency_code: str
    description: str
    received_on: date
    status: str = ""  # e.g. "open", "replied" — passed through to the officer
    # ``normalise(description)`` when known (stored with the application: ``repeat_text``).
    normalised: str | None = None


@dataclass(frozen=True)
class RepeatMatch:
    case_id: str
    similarity: float
    received_on: date
    status: str


def find_repeats(
    *,
    applicant_ref: str,
    agency_code: str,
    description: str,
    earlier: Iterable[Earlier],
    exclude_case_id: str | None = None,
    threshold: float = THRESHOLD,
) -> list[RepeatMatch]:
    """Earlier applications of the same applicant to the same agency that this one repeats,
    most similar first."""
    mine = _profile(normalise(description))
    out = []
    for e in earlier:
        if e.case_id == exclude_case_id:
            continue
        if e.applicant_ref != applicant_ref or e.agency_code != agency_code:
            continue
        theirs = _profile(e.normalised if e.normalised is not None else normalise(e.description))
        if theirs.numbers != mine.numbers:
            continue
        s = _cosine(mine, theirs)
        if s >= threshold:
            out.append(RepeatMatch(e.case_id, round(s, 4), e.received_on, e.status))
    out.sort(key=lambda m: (-m.similarity, m.received_on, m.case_id))
    return out
