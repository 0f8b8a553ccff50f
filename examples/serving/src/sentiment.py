"""A tiny word-list sentiment scorer: small enough to read, rich enough for every kind of test case.

Input: a string, or {"texts": [string, ...]}. Output for one text:
{"label": "positive" | "negative" | "neutral", "score": float in [-1, 1], "words": int}.
"""

import re

POSITIVE = {"good", "great", "excellent", "love", "happy", "fast", "wonderful", "best", "nice", "fine"}
NEGATIVE = {"bad", "terrible", "awful", "hate", "sad", "slow", "worst", "broken", "poor", "ugly"}
WORD = re.compile(r"[a-z']+")


def score(text):
    words = WORD.findall(text.lower())
    if not words:
        raise ValueError("input text has no words")
    hits = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
    value = max(-1.0, min(1.0, hits / max(1, len(words)) * 3))
    label = "positive" if value > 0 else "negative" if value < 0 else "neutral"
    return {"label": label, "score": round(value, 3), "words": len(words)}


def apply(input):
    if isinstance(input, str):
        return score(input)
    if isinstance(input, dict) and isinstance(input.get("texts"), list):
        return {"results": [score(text) for text in input["texts"]]}
    raise TypeError('input must be a string or {"texts": [...]}')
