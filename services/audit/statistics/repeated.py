"""Information requested repeatedly by different applicants: candidates for proactive disclosure
(converting repeated requests into proactive disclosure). Pure logic.

Two descriptions are alike when the Jaccard similarity of their sets of character bigrams (after
dropping spaces and punctuation) reaches a threshold; alike descriptions are grouped transitively;
a group is listed when it holds applications of at least ``min_applicants`` different applicants.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from services.audit.statistics.cases import Case

_DROP = re.compile(r"[\s\W_]+", re.UNICODE)


def bigrams(text: str) -> frozenset[str]:
    t = _DROP.sub("", unicodedata.normalize("NFKC", text))
    return frozenset(t[i:i + 2] for i in range(len(t) - 1)) if len(t) > 1 else frozenset({t})


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def repeated_requests(cases: Iterable[Case], agency_code: str, *, threshold: float = 0.6,
                      min_applicants: int = 2) -> list[dict[str, Any]]:
    items = [c for c in cases if c.agency_code == agency_code and c.description]
    grams = [bigrams(c.description) for c in items]
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    index: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(grams):
        candidates = {j for gram in g for j in index[gram]}
        for j in candidates:
            if find(i) != find(j) and similarity(g, grams[j]) >= threshold:
                parent[find(i)] = find(j)
        for gram in g:
            index[gram].append(i)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(items)):
        groups[find(i)].append(i)
    out = []
    for members in groups.values():
        applicants = {items[i].applicant_ref for i in members}
        if len(applicants) < min_applicants:
            continue
        cases_ = sorted((items[i] for i in members), key=lambda c: (c.received_on, c.case_id))
        out.append({"description": cases_[0].description, "applicants": len(applicants),
                    "applications": len(cases_), "case_ids": [c.case_id for c in cases_],
                    "first_received_on": cases_[0].received_on.isoformat(),
                    "last_received_on": cases_[-1].received_on.isoformat()})
    return sorted(out, key=lambda g: (-g["applicants"], -g["applications"], g["first_received_on"]))
