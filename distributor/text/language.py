"""Indonesian or English, by counting common words."""

from __future__ import annotations

import re

__all__ = ["detect_language"]

_STOPWORDS = {
    "id": frozenset({
        "yang", "dan", "di", "ini", "itu", "dengan", "untuk", "dari", "dalam", "tidak", "akan",
        "pada", "juga", "ke", "karena", "oleh", "ada", "adalah", "sebagai", "bahwa", "atau",
        "mereka", "telah", "sudah", "para", "tersebut", "kata", "saat", "bisa", "dapat",
        "hingga", "serta", "namun", "kami", "kita", "menjadi", "lebih",
    }),
    "en": frozenset({
        "the", "and", "of", "to", "in", "is", "that", "for", "on", "with", "as", "was", "are",
        "be", "by", "at", "from", "it", "this", "have", "has", "were", "will", "said", "an",
        "not", "but", "which", "their", "its", "after", "been",
    }),
}
_WORD = re.compile(r"[^\W\d_]+")


def detect_language(text: str, default: str = "en") -> str:
    """``"id"`` or ``"en"`` by counting common words; ``default`` unless one clearly wins."""
    counts = dict.fromkeys(_STOPWORDS, 0)
    for word in _WORD.findall(text.lower()):
        for language, words in _STOPWORDS.items():
            if word in words:
                counts[language] += 1
    (best, top), (_, second) = sorted(counts.items(), key=lambda kv: -kv[1])[:2]
    return best if top >= 2 and top >= 2 * second else default
