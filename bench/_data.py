"""What several benches share: a smaller, seeded sample of the labelled messages for quick runs."""

import random
from typing import TypeVar

T = TypeVar("T")


def sample_rows(
    docs: list[T], labels: list[str], rows: int | None, seed: int
) -> tuple[list[T], list[str]]:
    """`rows` of the messages picked at random (seeded, file order kept); all when None."""
    if rows is None or rows >= len(docs):
        return docs, labels
    picked = sorted(random.Random(seed).sample(range(len(docs)), rows))
    return [docs[i] for i in picked], [labels[i] for i in picked]
