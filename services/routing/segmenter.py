"""Chinese word segmentation for routing (jieba, with its own dictionary shipped in the package).

One tokenizer of this process (not jieba's global one), taught the directory's words and the
phrasings so that they stay whole (``被征地农民``, ``政府采购``). Pure apart from jieba's dictionary
load (once, ~1 s; jieba caches it in the temp directory).

Memory: jieba's whole dictionary (349,046 words; with their prefixes about 500,000 entries) costs a
process about 80 MiB, which took routing's memory at rest to 155 MiB (the limit is 120). Words
rarer than ``MIN_FREQ`` in jieba's corpus (244,000 of them, most of them names and rare compounds)
are left out: 105,157 words, about 35 MiB less; the directory's own words and the phrasings are
taught on top, and the labelled sets route the same.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

import jieba

_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{2,}$")
_LOCK = threading.Lock()
_TOKENIZER: jieba.Tokenizer | None = None
_LEARNED: dict[str, int] = {}  # word -> its frequency in jieba's own dictionary before it was taught

jieba.setLogLevel(logging.WARNING)


MIN_FREQ = 10


def _pruned_dictionary(min_freq: int = MIN_FREQ) -> Path:
    """jieba's dictionary without the words rarer than ``min_freq`` (written once per version)."""
    source = Path(jieba.__file__).with_name("dict.txt")
    data = source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"gongkai-jieba-{digest}-{min_freq}.txt"
    if not target.exists():
        kept = [line for line in data.decode("utf-8").splitlines()
                if len(parts := line.split(" ")) >= 2 and parts[1].isdigit() and int(parts[1]) >= min_freq]
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text("\n".join(kept) + "\n", encoding="utf-8")
        tmp.replace(target)
    return target


def _tokenizer() -> jieba.Tokenizer:
    global _TOKENIZER
    with _LOCK:
        if _TOKENIZER is None:
            tk = jieba.Tokenizer(dictionary=str(_pruned_dictionary()))
            tk.initialize()
            _TOKENIZER = tk
        return _TOKENIZER


def learn_words(words: Iterable[str]) -> None:
    """Keep these words whole when segmenting (the directory's keywords, the phrasings)."""
    tk = _tokenizer()
    with _LOCK:
        for w in words:
            if w and w not in _LEARNED and len(w) >= 2:
                _LEARNED[w] = int(tk.FREQ.get(w) or 0)
                tk.add_word(w, freq=max(tk.suggest_freq(w), 1000))


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) of every word of ``text``, in order (no HMM: the same text, the same words)."""
    return list(_tokenizer().tokenize(text, HMM=False))


def search_tokens(text: str) -> list[tuple[str, int, int]]:
    """Like ``tokens`` but also the shorter words inside long ones (jieba's search mode: 服务项目 gives
    服务 and 项目 too), each with its position."""
    return list(_tokenizer().tokenize(text, mode="search", HMM=False))


def frequency(word: str) -> int:
    """The word's frequency in jieba's own dictionary (0 if it is not a word there); the words taught
    by ``learn_words`` keep their own frequency, not the one given to keep them whole."""
    if word in _LEARNED:
        return _LEARNED[word]
    return int(_tokenizer().FREQ.get(word) or 0)


def words(text: str) -> list[str]:
    return [w for w, _, _ in tokens(text)]


def content_words(text: str) -> list[str]:
    """The words of two or more Chinese characters (numbers, latin and one-character words dropped)."""
    return [w for w in words(text) if _CJK_WORD.match(w)]
