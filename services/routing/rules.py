"""Which departments must answer an application. Pure domain logic, no I/O.

``decide(directory, description, targets)`` returns a ``Decision``: either the departments picked,
each with the rule that picked it and a confidence, or triage by the OGI office with the reason and
the rules' suggestions. Nothing is guessed: when any part of the description is not confidently
attributed to exactly one department, the whole case goes to triage.

Rules, in order:

1. **Explicit targets** (named by the applicant or the clerk): exactly those, confidence 1.0. A code
   the directory does not know adds the OGI office with ``triage:unknown-target:<codes>``.
2. **Not an OGI request** (Art. 38–39: complaints, reports, petitions, requests to compile or
   analyse; a query of one's own records): triage ``triage:not-ogi:<marker>``.
3. **Keywords** of each department (``keywords``: strong, evidence 0.9; ``aliases`` and the full
   name: strong, 0.9; ``weak_keywords``: weak, 0.5). All occurrences in the description are found
   and overlaps resolved by longest match first (``被征地农民`` beats ``征地``). The description is
   cut into clauses at punctuation and coordinators (、 , ; 及 以及 和 与 或), and a clause into
   segments at ``的``. Chinese noun phrases are head-final, so the department of a clause is the
   one found in its last segment that has any hit (the head); hits in earlier segments are context
   (``某高速公路建设项目的用地审批文件`` is the land department's, not the roads'). Strong hits of
   two departments in the head segment: ambiguous → triage. Only weak hits in the head while an
   earlier segment holds a strong hit of another department: ambiguous → triage.
4. **Catalogue** matching: each department's catalogue categories (``catalogue``) and subjects are
   compared with the clause by IDF-weighted character-bigram containment (the share of the entry's
   bigram weight found in the clause; bigrams shared by many departments weigh little). A clause
   with no keyword: a best score ≥ ``CATALOGUE_STRONG`` with every other department below
   ``CATALOGUE_WEAK`` picks that department (evidence ``CATALOGUE_EVIDENCE``); a best score in
   between is uncertain → triage. In a clause with keywords, a catalogue score ≥ ``CATALOGUE_WEAK``
   for the head department adds evidence ``CATALOGUE_SUPPORT``.
5. **Elliptic coordination**: a clause holding only generic document words (名单, 标准, 批复 …) after
   a routed clause belongs to the same department (``发放标准和发放名单``).

Evidence of one department within a clause is combined by noisy-OR, 1 − Π(1 − e). A clause is
routed when its department reaches ``PICK_THRESHOLD`` (0.8): one strong keyword (0.9) does, two
weak ones (0.75) do not, a weak one with catalogue support (1 − 0.5·0.4 = 0.8) does. Any clause
below it, or ambiguous, or substantive but matched by nothing, sends the case to triage.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

from services.routing.directory import Department, Directory

PICK_THRESHOLD = 0.8
STRONG_EVIDENCE = 0.9
WEAK_EVIDENCE = 0.5
CATALOGUE_STRONG = 0.75
CATALOGUE_WEAK = 0.5
CATALOGUE_EVIDENCE = 0.85
CATALOGUE_SUPPORT = 0.6

# Art. 38–39 and the like: not a request for existing government information.
NOT_OGI_MARKERS = (
    "投诉", "举报", "信访", "上访", "查处", "严肃处理", "进行调查", "要求赔偿", "请编制", "编制一份",
    "汇总分析", "帮我统计", "查询本人", "咨询",
)
_PUNCT = set(",;:.!?。、\n\t()[]<>{}\"'“”‘’《》【】")
_COORD_WORDS = ("以及", "及其", "并且")
_COORD_CHARS = set("及和与或并")
_PROTECTED = ("涉及", "及时", "普及", "危及", "参与", "给与", "和谐", "和平", "并非", "合并")
_FILLER = re.compile(
    "请求公开|申请公开|请予公开|请公开|请提供|公开|提供|本人|我们|我|相关|有关|所依据|依据的|"
    "政府信息|信息|资料|年度|全省|全市|全县|省级|市级|县级|每月|每年|近三年|近五年|历年|某某|某|"
    "年|月|日|的|之|其|等|关于|一份|份|所有|全部|具体|内容"
)
# Generic document words: a clause made only of these is an elliptic coordinate of the previous one.
_GENERIC = re.compile(
    "一览表|标准|名单|方案|批复|文件|结果|流程|依据|清单|情况|数据|报告|记录|通知|政策|规定|办法|目录|"
    "范围|计划|进度|明细|金额|面积|合同|公告|决定|划定|发放|办理|审批|收费|租金|分配|使用|落实|执行|"
    "支出|收支|许可|证书|统计|信息|文件|余额|限额|总额|数额"
)
_PLACE = re.compile(r"[\u4e00-\u9fff]{1,8}?(?:省|州|市|县|区|镇|乡|村|组|街道|社区)")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Words matched like keywords but belonging to nobody: they stop a shorter keyword from being found
# across a word boundary (全省道路 holds 省道, a provincial road, by accident).
BLOCKERS = ("全省", "本省", "省级", "省属", "省政府", "外省", "跨省", "全市", "全县", "全州")


@dataclass(frozen=True)
class Pick:
    dept_code: str
    dept_name: str
    rule: str
    confidence: float = 1.0


@dataclass(frozen=True)
class Decision:
    """The outcome of the rules: ``picks`` are the tasks to create (the OGI office alone on triage)."""

    picks: tuple[Pick, ...]
    triage: bool
    reasons: tuple[str, ...] = ()
    suggestions: tuple[Pick, ...] = ()  # what the rules found, for the OGI office to confirm or not

    @property
    def codes(self) -> list[str]:
        return [p.dept_code for p in self.picks]


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    dept: str
    strong: bool
    word: str


@dataclass
class _Index:
    words: list[tuple[str, str, bool]]  # (word, dept code, strong)
    entries: dict[str, list[tuple[str, frozenset[str]]]]  # dept -> [(entry, bigrams)]
    idf: dict[str, float]
    depts: dict[str, Department] = field(default_factory=dict)


_INDEX_CACHE: dict[int, tuple[Directory, _Index]] = {}


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


def _bigrams(text: str) -> frozenset[str]:
    cjk = "".join(_CJK.findall(text))
    return frozenset(cjk[i:i + 2] for i in range(len(cjk) - 1))


def _index(directory: Directory) -> _Index:
    cached = _INDEX_CACHE.get(id(directory))
    if cached and cached[0] is directory:
        return cached[1]
    words: list[tuple[str, str, bool]] = []
    entries: dict[str, list[tuple[str, frozenset[str]]]] = {}
    df: dict[str, int] = {}
    for d in directory.departments:
        words += [(normalize(w), d.code, True) for w in (*d.keywords, *d.aliases, d.name)]
        words += [(normalize(w), d.code, False) for w in d.weak_keywords]
        entries[d.code] = [(e, _bigrams(normalize(e))) for e in (*d.catalogue, *d.subjects)]
        for b in set().union(*(bg for _, bg in entries[d.code])) if entries[d.code] else ():
            df[b] = df.get(b, 0) + 1
    words += [(w, "", True) for w in BLOCKERS]
    n = max(len(directory.departments), 1)
    idf = {b: math.log(1 + n / c) for b, c in df.items()}
    index = _Index(words=words, entries=entries, idf=idf, depts={d.code: d for d in directory.departments})
    if len(_INDEX_CACHE) > 16:
        _INDEX_CACHE.clear()
    _INDEX_CACHE[id(directory)] = (directory, index)
    return index


def catalogue_scores(directory: Directory, text: str) -> dict[str, tuple[float, str]]:
    """Per department: the best IDF-weighted bigram containment of one of its entries in ``text``."""
    index = _index(directory)
    grams = _bigrams(normalize(text))
    out: dict[str, tuple[float, str]] = {}
    for code, entries in index.entries.items():
        best = (0.0, "")
        for entry, eg in entries:
            total = sum(index.idf.get(b, 0.0) for b in eg)
            if total <= 0:
                continue
            score = sum(index.idf.get(b, 0.0) for b in eg & grams) / total
            if score > best[0]:
                best = (score, entry)
        out[code] = best
    return out


def _hits(index: _Index, text: str) -> list[_Hit]:
    found: list[_Hit] = []
    for word, dept, strong in index.words:
        if not word:
            continue
        start = text.find(word)
        while start >= 0:
            found.append(_Hit(start, start + len(word), dept, strong, word))
            start = text.find(word, start + 1)
    # Longest match first; then strong before weak; then leftmost.
    found.sort(key=lambda h: (-(h.end - h.start), not h.strong, h.start))
    kept: list[_Hit] = []
    taken = [False] * len(text)
    for h in found:
        if not any(taken[h.start:h.end]):
            kept.append(h)
            for i in range(h.start, h.end):
                taken[i] = True
    return sorted((h for h in kept if h.dept), key=lambda h: h.start)


def _inside(hits: list[_Hit], i: int) -> bool:
    return any(h.start <= i < h.end for h in hits)


def _protected(text: str, i: int) -> bool:
    return any(text.startswith(w, i - k) for w in _PROTECTED for k in range(len(w)) if i - k >= 0)


def _split(text: str, hits: list[_Hit]) -> list[tuple[int, int]]:
    """Clause spans: cut at punctuation and coordinators, never inside a keyword hit."""
    spans, start, i = [], 0, 0
    while i < len(text):
        cut = 0
        if not _inside(hits, i):
            if text[i] in _PUNCT:
                cut = 1
            elif any(text.startswith(w, i) for w in _COORD_WORDS):
                cut = 2
            elif text[i] in _COORD_CHARS and not _protected(text, i):
                cut = 1
        if cut:
            if i > start:
                spans.append((start, i))
            start = i + cut
            i += cut
        else:
            i += 1
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _segments(text: str, span: tuple[int, int], hits: list[_Hit]) -> list[tuple[int, int]]:
    out, start = [], span[0]
    for i in range(span[0], span[1]):
        if text[i] in "的之" and not _inside(hits, i):
            out.append((start, i))
            start = i + 1
    out.append((start, span[1]))
    return out


def _residue(clause: str) -> str:
    return "".join(_CJK.findall(_FILLER.sub("", _PLACE.sub("", clause))))


def _noisy_or(evidence: list[float]) -> float:
    p = 1.0
    for e in evidence:
        p *= 1 - e
    return round(1 - p, 4)


def _explicit(directory: Directory, targets: list[str]) -> Decision:
    ogi = directory.ogi_office
    picks, unknown = [], []
    for code in dict.fromkeys(targets):  # one pick per department, even if named twice
        dept = directory.get(code)
        if dept is None:
            unknown.append(code)
        else:
            picks.append(Pick(dept.code, dept.name, "explicit-target", 1.0))
    if unknown and ogi.code not in {p.dept_code for p in picks}:
        # A named department the directory does not know: the OGI office decides, not a guess.
        reason = "triage:unknown-target:" + ",".join(unknown)
        picks.append(Pick(ogi.code, ogi.name, reason, 1.0))
        return Decision(tuple(picks), triage=True, reasons=(reason,))
    return Decision(tuple(picks), triage=False)


def decide(directory: Directory, description: str, targets: list[str] | None = None) -> Decision:
    if targets:
        return _explicit(directory, targets)
    ogi = directory.ogi_office
    text = normalize(description)

    def triage(reasons: list[str], suggestions: list[Pick]) -> Decision:
        rule = reasons[0] if reasons else "triage:no-rule-matched"
        return Decision((Pick(ogi.code, ogi.name, rule, 1.0),), triage=True,
                        reasons=tuple(reasons) or (rule,), suggestions=tuple(suggestions))

    marker = next((m for m in NOT_OGI_MARKERS if m in text), None)
    if marker:
        return triage([f"triage:not-ogi:{marker}"], [])
    index = _index(directory)
    hits = _hits(index, text)
    reasons: list[str] = []
    found: dict[str, Pick] = {}  # dept -> best pick
    uncertain: list[Pick] = []
    for span in _split(text, hits):
        clause = text[span[0]:span[1]]
        in_clause = [h for h in hits if span[0] <= h.start < span[1]]
        scores = catalogue_scores(directory, clause)
        if not in_clause:
            residue = _residue(clause)
            if not residue:
                continue  # filler only (请公开, a place, a year …)
            if not _GENERIC.sub("", residue):
                continue  # generic words only: an elliptic coordinate (发放标准和发放名单), or nothing
            ranked = sorted(scores.items(), key=lambda kv: -kv[1][0])
            (best, (s1, entry)), s2 = ranked[0], (ranked[1][1][0] if len(ranked) > 1 else 0.0)
            dept = index.depts[best]
            if s1 >= CATALOGUE_STRONG and s2 < CATALOGUE_WEAK:
                pick = Pick(best, dept.name, f"catalogue:{entry}", CATALOGUE_EVIDENCE)
                found[best] = max(found.get(best, pick), pick, key=lambda p: p.confidence)
            elif s1 >= CATALOGUE_WEAK:
                uncertain.append(Pick(best, dept.name, f"catalogue:{entry}", round(s1 * CATALOGUE_EVIDENCE, 4)))
                reasons.append(f"triage:uncertain:{clause}")
            else:
                reasons.append(f"triage:uncovered:{clause}")
            continue
        segments = _segments(text, span, hits)
        head = next(seg for seg in reversed(segments) if any(seg[0] <= h.start < seg[1] for h in in_clause))
        head_hits = [h for h in in_clause if head[0] <= h.start < head[1]]
        strong = {h.dept for h in head_hits if h.strong}
        weak = {h.dept for h in head_hits if not h.strong}
        context_strong = {h.dept for h in in_clause if h.strong and not head[0] <= h.start < head[1]}
        if len(strong) > 1 or (not strong and len(weak) > 1):
            reasons.append(f"triage:ambiguous:{clause}")
            uncertain += [Pick(c, index.depts[c].name, "keyword" if strong else "weak-keyword",
                               STRONG_EVIDENCE if strong else WEAK_EVIDENCE) for c in sorted(strong or weak)]
            continue
        dept_code = next(iter(strong or weak))
        if not strong and context_strong - {dept_code}:
            reasons.append(f"triage:ambiguous:{clause}")
            uncertain.append(Pick(dept_code, index.depts[dept_code].name, "weak-keyword", WEAK_EVIDENCE))
            continue
        own = [h for h in in_clause if h.dept == dept_code]
        evidence = [STRONG_EVIDENCE if h.strong else WEAK_EVIDENCE for h in own]
        rule_words = list(dict.fromkeys(h.word for h in own))
        kind = "keyword" if any(h.strong for h in own) else "weak-keyword"
        score, entry = scores.get(dept_code, (0.0, ""))
        if score >= CATALOGUE_WEAK:
            evidence.append(CATALOGUE_SUPPORT)
        confidence = _noisy_or(evidence)
        rule = f"{kind}:{','.join(rule_words[:5])}" + (f";catalogue:{entry}" if score >= CATALOGUE_WEAK else "")
        pick = Pick(dept_code, index.depts[dept_code].name, rule, confidence)
        if confidence >= PICK_THRESHOLD:
            found[dept_code] = max(found.get(dept_code, pick), pick, key=lambda p: p.confidence)
        else:
            uncertain.append(pick)
            reasons.append(f"triage:low-confidence:{clause}")
    order = [d.code for d in directory.departments]
    picks = sorted(found.values(), key=lambda p: order.index(p.dept_code))
    if reasons or not picks:
        return triage(reasons, picks + uncertain)
    return Decision(tuple(picks), triage=False)


def route(directory: Directory, description: str, targets: list[str]) -> list[Pick]:
    """Compatibility wrapper: the tasks to create (the OGI office alone when the case goes to triage)."""
    return list(decide(directory, description, targets).picks)
