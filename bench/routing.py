"""Routing classifier figures: 5-fold cross-validation on the shared labelled messages.

Trains a fresh model per fold with the product's own code (`dispatch.routing.classifier.evaluate`,
as `hotline dispatch evaluate` does), with title+text and with the title alone, pinned to
one CPU core, and prints per-fold lines on stderr and, as the last line on stdout, one JSON
object with the mean scores, the slowest training and the pooled p50/p99 latency of one
prediction (one ticket at a time).

    python -m bench.routing [--data ../shared/data/gov_messages_train.tsv] [--folds 5]
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sklearn.model_selection import StratifiedKFold

from bench._data import sample_rows
from dispatch.routing.classifier import FIELDS
from dispatch.routing.classifier import evaluate
from dispatch.routing.classifier import read_labelled_tsv

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gov_messages_train.tsv"


def run(
    path: str, folds: int, fields_list: list[str], seed: int, rows: int | None = None
) -> dict[str, Any]:
    docs, labels = sample_rows(*read_labelled_tsv(path), rows, seed)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    out: dict[str, Any] = {"data": Path(path).name, "rows": len(docs), "folds": folds}
    for fields in fields_list:
        results = []
        for fold, (train, test) in enumerate(splitter.split(docs, labels), start=1):
            r = evaluate(
                [docs[i] for i in train],
                [labels[i] for i in train],
                [docs[i] for i in test],
                [labels[i] for i in test],
                fields=fields,  # type: ignore[arg-type]
                latency_samples=len(test),
            )
            print(
                f"{fields} fold {fold}: macro_f1={r['macro_f1']} accuracy={r['accuracy']} "
                f"train={r['train_seconds']}s p99={r['predict_p99_ms']}ms",
                file=sys.stderr,
                flush=True,
            )
            results.append(r)
        labels_seen = sorted(results[0]["per_label_f1"])
        out[fields] = {
            "accuracy": _mean(results, "accuracy"),
            "macro_f1": _mean(results, "macro_f1"),
            "macro_f1_min_fold": min(r["macro_f1"] for r in results),
            "top3_accuracy": _mean(results, "top3_accuracy"),
            "per_label_f1": {
                name: round(statistics.fmean(r["per_label_f1"].get(name, 0.0) for r in results), 4)
                for name in labels_seen
            },
            "train_seconds": max(r["train_seconds"] for r in results),
            "train_seconds_mean": round(statistics.fmean(r["train_seconds"] for r in results), 2),
            "predict_p50_ms": max(r["predict_p50_ms"] for r in results),
            "predict_p99_ms": max(r["predict_p99_ms"] for r in results),
        }
    return out


def _mean(results: list[dict[str, Any]], key: str) -> float:
    return round(statistics.fmean(r[key] for r in results), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--fields", nargs="+", default=["title+text", "title"], choices=FIELDS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, help="a seeded sample of the messages (quick runs)")
    args = parser.parse_args()
    if not Path(args.data).exists():
        sys.exit(f"labelled data not found: {args.data} (the shared data lives beside the repo)")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as stated
    started = time.perf_counter()
    result = run(args.data, args.folds, args.fields, args.seed, args.rows)
    result["cores"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
