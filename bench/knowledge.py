"""Knowledge-base search figures on the shared data (issue 6's protocol).

Each government reply in gov_replies.tsv becomes an article (its text only: nothing of the
citizen's message); the other shared messages (gov_messages_train.tsv, gov_hot_messages.tsv,
title and text) fill the base up as distractors, leaving out any with the id or the exact
title of a question. The questions are the reply set's message titles; the right answer to
each is the article made from the reply to that message. Prints, as the last line, one JSON
object: articles, questions, MRR@10, recall@5, p50/p95 search latency (one query at a time,
one core), the index build time from text (cutting every article with jieba, what the index
job does once per article) and from stored terms (what each web process does when the live
set changes the first time), and the update of that index when one article changes.

    python -m bench.knowledge [--data ../shared/data] [--questions N]
"""

import argparse
import csv
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from kb.index import jieba_words
from kb.search import Article
from kb.search import SearchIndex
from kb.search import document_terms

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def read(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(10**9)
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def build_base(
    data: Path, distractors: int | None = None
) -> tuple[list[Article], list[tuple[str, int]]]:
    """The articles and the questions with the id of their right article."""
    replies = read(data / "gov_replies.tsv")
    asked_ids = {r["id"] for r in replies}
    asked_titles = {r["title"] for r in replies}
    articles = [Article(i, "", r["reply"]) for i, r in enumerate(replies)]
    questions = [(r["title"], i) for i, r in enumerate(replies)]
    for name in ("gov_messages_train.tsv", "gov_hot_messages.tsv"):
        for row in read(data / name):
            if row["id"] in asked_ids or row["title"] in asked_titles:
                continue  # the question itself is no distractor
            articles.append(Article(len(articles), row["title"], row["text"]))
    if distractors is not None:
        articles = articles[: len(replies) + distractors]
    return articles, questions


def run(data: Path, n_questions: int, seed: int, distractors: int | None = None) -> dict[str, Any]:
    articles, questions = build_base(data, distractors)
    started = time.perf_counter()
    index = SearchIndex(articles, jieba_words)
    build = time.perf_counter() - started
    stored = [
        Article(a.id, a.title, a.body, terms=tuple(document_terms(a.title, a.body, jieba_words)))
        for a in articles
    ]
    started = time.perf_counter()
    SearchIndex(stored, jieba_words)
    rebuild = time.perf_counter() - started
    started = time.perf_counter()
    index.updated([stored[0]])  # one article published again
    update_one = time.perf_counter() - started
    random.Random(seed).shuffle(questions)
    questions = questions[:n_questions]
    ranks: list[float] = []
    found5 = 0
    latencies: list[float] = []
    for title, answer in questions:
        t0 = time.perf_counter()
        hits = index.search(title, k=10)
        latencies.append((time.perf_counter() - t0) * 1000)
        ids = [h.id for h in hits]
        rank = ids.index(answer) + 1 if answer in ids else None
        ranks.append(1 / rank if rank else 0.0)
        found5 += bool(rank and rank <= 5)
    latencies.sort()
    return {
        "articles": len(articles),
        "questions": len(questions),
        "mrr_at_10": round(statistics.fmean(ranks), 3),
        "recall_at_5": round(found5 / len(questions), 3),
        "p50_ms": round(latencies[len(latencies) // 2], 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 2),
        "build_seconds": round(build, 1),
        "rebuild_from_terms_seconds": round(rebuild, 2),
        "update_one_article_seconds": round(update_one, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--questions", type=int, default=2776, help="at least 300")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--distractors", type=int, help="only this many other messages (quick runs; default all)"
    )
    args = parser.parse_args()
    if not (args.data / "gov_replies.tsv").exists():
        sys.exit(f"shared data not found in {args.data} (it lives beside the repository)")
    if args.questions < 300:
        sys.exit("--questions: at least 300")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    print(
        json.dumps(run(args.data, args.questions, args.seed, args.distractors), ensure_ascii=False)
    )


if __name__ == "__main__":
    main()
