"""Chinese input text: normalisation (width, spaces, length) and whether it holds any words."""

import re
import unicodedata

# Routing reads only the start of very long texts: the matter is stated early, and the
# classifier's latency must not grow with a 50,000-character paste.
MAX_ROUTING_CHARS = 2_000


_SPACE = re.compile(r"\s+")


# Anything that is a letter or a digit in any script; text without one is not a request.
_WORDLIKE = re.compile(r"[^\W_]", re.UNICODE)


def normalise(text: str | None, limit: int = MAX_ROUTING_CHARS) -> str:
    """Fold full-width forms (NFKC), drop control characters and collapse whitespace."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text[: limit * 2])
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t")
    return _SPACE.sub(" ", text).strip()[:limit]


def has_words(text: str | None) -> bool:
    """Return whether the text holds at least one letter or digit (not only punctuation)."""
    return bool(text and _WORDLIKE.search(text))
