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

6. **Phrasings and words** (issue #13): the subjects' usual phrasings (services/routing/phrasings.py)
   are strong like keywords (``phrasing:<p>``), with their variant spellings; a word of jieba's
   segmentation (services/routing/segmenter.py) that only one department's vocabulary holds is
   evidence ``WORD_EVIDENCE`` (``words:<w>``). A weak word of another department ending the head after
   a strong one (秸秆焚烧监测) is ambiguous unless the catalogue supports the strong one or the weak
   word is one of ``HEADS_OF_THE_MODIFIER`` (补贴, 资金 …). Suggestions are ranked by evidence.

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

from services.routing import phrasings, segmenter
from services.routing.directory import Department, Directory

PICK_THRESHOLD = 0.8
STRONG_EVIDENCE = 0.9
WEAK_EVIDENCE = 0.5
CATALOGUE_STRONG = 0.75
CATALOGUE_WEAK = 0.5
CATALOGUE_EVIDENCE = 0.85
CATALOGUE_SUPPORT = 0.6
WORD_EVIDENCE = 0.6  # a word (jieba) found in the vocabulary of exactly one department
CONTEXT_EVIDENCE = 0.6  # a suggestion only: a strong word of a department in a modifier, before the head
# Weak words that, ending a compound, belong to what precedes them (残疾人护理补贴 is the subsidy of
# a civil-affairs subject, not agriculture's): they never make the head ambiguous.
HEADS_OF_THE_MODIFIER = frozenset({"补贴", "资金", "经费", "补助", "安置", "投资", "收费标准", "价格"})

# Art. 38–39 and the like: not a request for existing government information.
NOT_OGI_MARKERS = (
    "投诉", "举报", "信访", "上访", "查处", "严肃处理", "进行调查", "要求赔偿", "请编制", "编制一份",
    "汇总分析", "帮我统计", "查询本人", "咨询",
    # added with issue #13: how complaints, petitions and requests to compile are worded
    "反映", "请相关部门处理", "要求处理", "请调查", "帮我计算", "帮我算", "请统计", "统计分析",
    "形成报告", "整理成", "汇编成", "请解释", "为什么", "给个说法", "讨个说法", "要求政府", "要求追究",
    "请求处理", "依法处理", "请核实", "请督促",
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
    "支出|收支|许可|证书|统计|信息|文件|余额|限额|总额|数额|登记|延续|变更|注销"
)
_STOPWORDS = frozenset({"申请", "请求", "要求", "希望", "了解", "查询", "获取", "索取", "工作", "项目", "建设",
                        "管理", "工程", "相关", "有关", "单位", "部门", "机构", "人员", "对象", "企业", "公司", "一般",
                        "云南", "云南省", "政府", "人民政府", "省级", "公共", "服务", "事项", "办事", "指南", "法定",
                        "集中", "重大", "改造", "国有土地", "大中型", "配套", "施工进度", "加固", "续建", "除险",
                        "购置"})
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
    kind: str = "keyword"  # keyword | weak-keyword | phrasing


@dataclass
class _Index:
    words: list[tuple[str, str, bool, str]]  # (word, dept code, strong, kind)
    entries: dict[str, list[tuple[str, frozenset[str]]]]  # dept -> [(entry, bigrams)]
    idf: dict[str, float]
    depts: dict[str, Department] = field(default_factory=dict)
    vocab: dict[str, str] = field(default_factory=dict)  # jieba word -> the one department whose vocabulary holds it


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
    words: list[tuple[str, str, bool, str]] = []
    entries: dict[str, list[tuple[str, frozenset[str]]]] = {}
    df: dict[str, int] = {}
    own = {normalize(w) for d in directory.departments for w in (*d.keywords, *d.aliases, d.name, *d.weak_keywords)}
    vocab_of: dict[str, set[str]] = {}
    for d in directory.departments:
        strong = [normalize(w) for w in (*d.keywords, *d.aliases, d.name)]
        # A phrasing holding one of the department's own strong words adds nothing but could hide it.
        phrases = [normalize(w) for w in phrasings.PHRASINGS.get(d.code, ())
                   if normalize(w) not in own and not any(k in normalize(w) for k in strong)]
        words += [(w, d.code, True, "keyword") for w in _with_variants(strong)]
        words += [(w, d.code, True, "phrasing") for w in _with_variants(phrases) if w not in own]
        words += [(normalize(w), d.code, False, "weak-keyword") for w in d.weak_keywords]
        entries[d.code] = [(e, _bigrams(normalize(e))) for e in (*d.catalogue, *d.subjects)]
        for b in set().union(*(bg for _, bg in entries[d.code])) if entries[d.code] else ():
            df[b] = df.get(b, 0) + 1
        vocab_of[d.code] = {normalize(t) for t in (*d.catalogue, *d.subjects, *strong, *phrases, *d.weak_keywords)}
    words += [(w, "", True, "blocker") for w in BLOCKERS]
    segmenter.learn_words([w for w, dept, _, _ in words if dept])
    for code, texts in vocab_of.items():
        vocab_of[code] = {w for t in texts for w in _content(t)}
    n = max(len(directory.departments), 1)
    idf = {b: math.log(1 + n / c) for b, c in df.items()}
    # A word tells a department when no other department's texts hold it, even inside a longer word.
    texts_of = {d.code: "|".join(normalize(t) for t in (*d.catalogue, *d.subjects, *d.keywords, *d.aliases, d.name,
                                                       *d.weak_keywords, *phrasings.PHRASINGS.get(d.code, ())))
                for d in directory.departments}
    vocab = {w: code for code, vs in vocab_of.items() for w in vs
             if not any(w in t for other, t in texts_of.items() if other != code)}
    index = _Index(words=words, entries=entries, idf=idf, depts={d.code: d for d in directory.departments},
                   vocab=vocab)
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


def _with_variants(words: list[str]) -> list[str]:
    """The words and their variants (phrasings.SYNONYMS: 公开招聘 is also 公开招录)."""
    out = list(words)
    for w in words:
        for variant, canonical in phrasings.SYNONYMS.items():
            if canonical in w and variant not in w:
                out.append(w.replace(canonical, variant))
    return list(dict.fromkeys(out))


def _hits(index: _Index, text: str) -> list[_Hit]:
    found: list[_Hit] = []
    for word, dept, strong, kind in index.words:
        if not word:
            continue
        start = text.find(word)
        while start >= 0:
            found.append(_Hit(start, start + len(word), dept, strong, word, kind))
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


def _content(text: str) -> list[str]:
    """The jieba words of ``text`` that can tell a department: not filler, not generic, not a place."""
    return [w for w in segmenter.content_words(text)
            if not _FILLER.fullmatch(w) and not _GENERIC.fullmatch(w) and not _PLACE.fullmatch(w)
            and w not in _STOPWORDS]


def _distinctive(index: _Index, text: str, span: tuple[int, int], hits: list[_Hit]) -> list[tuple[str, str]]:
    """(word, department) for each word of the span (outside keyword hits) that only one department's
    vocabulary (subjects, catalogue, keywords, phrasings) holds."""
    out = []
    for w, start, end in segmenter.tokens(text[span[0]:span[1]]):
        a, b = span[0] + start, span[0] + end
        if any(h.start < b and a < h.end for h in hits):
            continue
        if w in index.vocab and w in _content(w):
            out.append((w, index.vocab[w]))
    return list(dict.fromkeys(out))


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
                        reasons=tuple(reasons) or (rule,), suggestions=tuple(_ranked(suggestions)))

    marker = next((m for m in NOT_OGI_MARKERS if m in text), None)
    if marker:
        return triage([f"triage:not-ogi:{marker}"], [])
    index = _index(directory)
    hits = _hits(index, text)
    reasons: list[str] = []
    found: dict[str, Pick] = {}  # dept -> best pick
    uncertain: list[Pick] = []

    def keep(pick: Pick) -> None:
        found[pick.dept_code] = max(found.get(pick.dept_code, pick), pick, key=lambda p: p.confidence)

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
            told = _distinctive(index, text, span, [])
            told_depts = {c for _, c in told}
            dept = index.depts[best]
            if s1 >= CATALOGUE_STRONG and s2 < CATALOGUE_WEAK and told_depts <= {best}:
                keep(Pick(best, dept.name, f"catalogue:{entry}", CATALOGUE_EVIDENCE))
                continue
            if len(told_depts) == 1:
                # No keyword, but the words (jieba) of one department's vocabulary, maybe with its catalogue.
                (code,) = told_depts
                evidence = [WORD_EVIDENCE for _ in told]
                rule = "words:" + ",".join(w for w, _ in told[:5])
                c_score, c_entry = scores.get(code, (0.0, ""))
                others = max((v[0] for k, v in scores.items() if k != code), default=0.0)
                if c_score >= CATALOGUE_WEAK and others < CATALOGUE_WEAK:
                    evidence.append(CATALOGUE_SUPPORT)
                    rule += f";catalogue:{c_entry}"
                pick = Pick(code, index.depts[code].name, rule, _noisy_or(evidence))
                if pick.confidence >= PICK_THRESHOLD and others < CATALOGUE_WEAK:
                    keep(pick)
                else:
                    uncertain.append(pick)
                    reasons.append(f"triage:uncertain:{clause}")
                continue
            if len(told_depts) > 1:
                reasons.append(f"triage:ambiguous:{clause}")
                uncertain += [Pick(c, index.depts[c].name, "words:" + ",".join(w for w, d in told if d == c),
                                   WORD_EVIDENCE) for c in sorted(told_depts)]
                continue
            if s1 >= CATALOGUE_WEAK:
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
            # The strong word before the head is evidence too, if only of a modifier's department.
            uncertain += [Pick(h.dept, index.depts[h.dept].name, f"keyword-context:{h.word}", CONTEXT_EVIDENCE)
                          for h in in_clause if h.strong and h.dept in context_strong - {dept_code}]
            continue
        last = max(head_hits, key=lambda h: h.start)
        supported = scores.get(dept_code, (0.0, ""))[0] >= CATALOGUE_WEAK
        if (strong and not last.strong and last.dept != dept_code and not supported
                and last.word not in HEADS_OF_THE_MODIFIER):
            # Head-final: a weak word of another department after the strong one may be the head
            # (秸秆焚烧监测: the monitoring, not the straw); 补贴, 资金 … belong to what they are of.
            reasons.append(f"triage:ambiguous:{clause}")
            uncertain += [Pick(dept_code, index.depts[dept_code].name, "keyword", STRONG_EVIDENCE),
                          Pick(last.dept, index.depts[last.dept].name, f"weak-keyword:{last.word}", WEAK_EVIDENCE)]
            continue
        told = _distinctive(index, text, head, hits)
        if any(c != dept_code for _, c in told) and not strong:
            reasons.append(f"triage:ambiguous:{clause}")
            uncertain.append(Pick(dept_code, index.depts[dept_code].name, "weak-keyword", WEAK_EVIDENCE))
            uncertain += [Pick(c, index.depts[c].name, f"words:{w}", WORD_EVIDENCE) for w, c in told if c != dept_code]
            continue
        own = [h for h in in_clause if h.dept == dept_code]
        evidence = [STRONG_EVIDENCE if h.strong else WEAK_EVIDENCE for h in own]
        rule_words = list(dict.fromkeys(h.word for h in own))
        kinds = {h.kind for h in own}
        kind = next(k for k in ("keyword", "phrasing", "weak-keyword") if k in kinds or k == "weak-keyword")
        own_words = [w for w, c in told if c == dept_code]
        evidence += [WORD_EVIDENCE for _ in own_words]
        score, entry = scores.get(dept_code, (0.0, ""))
        if score >= CATALOGUE_WEAK:
            evidence.append(CATALOGUE_SUPPORT)
        confidence = _noisy_or(evidence)
        rule = (f"{kind}:{','.join(rule_words[:5])}" + (f";words:{','.join(own_words[:5])}" if own_words else "")
                + (f";catalogue:{entry}" if score >= CATALOGUE_WEAK else ""))
        pick = Pick(dept_code, index.depts[dept_code].name, rule, confidence)
        if confidence >= PICK_THRESHOLD:
            keep(pick)
        else:
            uncertain.append(pick)
            reasons.append(f"triage:low-confidence:{clause}")
    order = [d.code for d in directory.departments]
    picks = sorted(found.values(), key=lambda p: order.index(p.dept_code))
    if reasons or not picks:
        return triage(reasons, picks + uncertain)
    return Decision(tuple(picks), triage=False)


def _ranked(suggestions: list[Pick]) -> list[Pick]:
    """One suggestion per department (its strongest evidence), strongest first: accepting the top
    one is the likely click."""
    best: dict[str, Pick] = {}
    for p in suggestions:
        if p.dept_code not in best or p.confidence > best[p.dept_code].confidence:
            best[p.dept_code] = p
    return sorted(best.values(), key=lambda p: (-p.confidence, p.dept_code))
