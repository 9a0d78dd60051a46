"""Chinese text classification behind one interface, and its evaluation.

`TextClassifier` is what routing depends on: fit on documents and labels, give ranked
labels with probabilities, and say which words drove a label. `LinearTextClassifier` is
today's model: TF-IDF over jieba words and over characters, separately for the title and
the whole text, into a linear SVM whose scores are calibrated to probabilities. The model
can change behind the interface; `evaluate` measures any of them the same way.
"""

import io
import math
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import Literal
from typing import Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score
from sklearn.metrics import f1_score
from sklearn.svm import LinearSVC

from infra.text import Document
from infra.text import Tokenizer
from infra.text import shared_tokenizer

Fields = Literal["title", "text", "title+text"]
FIELDS: tuple[Fields, ...] = ("title", "text", "title+text")
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Prediction:
    label: str
    probability: float


class TextClassifier(Protocol):
    """A trained (or trainable) classifier of tickets' text."""

    labels: tuple[str, ...]

    def fit(
        self,
        docs: Sequence[Document],
        labels: Sequence[str],
        weights: Sequence[float] | None = None,
    ) -> "TextClassifier": ...

    def predict_proba(self, docs: Sequence[Document]) -> FloatArray: ...

    def top(self, doc: Document, k: int = 3) -> list[Prediction]: ...

    def explain(self, doc: Document, label: str, n: int = 5) -> list[str]: ...


def dumps(model: object) -> bytes:
    """Serialise a trained model (or a bundle of them) for the database."""
    buf = io.BytesIO()
    pickle.dump(model, buf, protocol=pickle.HIGHEST_PROTOCOL)
    return buf.getvalue()


# Models saved before the code moved into packages name their classes by the old module
# paths; a saved model loads after an upgrade without retraining.
MOVED_MODULES = {
    "dispatch.classifier": "dispatch.routing.classifier",
    "dispatch.routing": "dispatch.routing.router",
    "dispatch.learning": "dispatch.routing.learning",
    "dispatch.locality": "dispatch.routing.locality",
    "dispatch.duplicates": "dispatch.routing.duplicates",
    "dispatch.text": "infra.text",
    "dispatch.domain": "dispatch.tickets.domain",
    "dispatch.clock": "kernel.worktime",
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(MOVED_MODULES.get(module, module), name)


def loads(blob: bytes) -> object:
    """Load a model this program saved (blobs come from the hotline's own database only)."""
    return _Unpickler(io.BytesIO(blob)).load()  # noqa: S301 - trusted, written by `dumps`


class _Block:
    """One TF-IDF block: which part of the document, words or characters, and its weight.

    `vector` computes one document's block exactly as the fitted vectorizer's `transform`
    does (sublinear tf × idf, L2-normalised, × weight), without its per-call overhead: the
    console asks about one draft at a time, and that overhead was most of the latency.
    """

    def __init__(
        self, part: str, analyzer: str, ngrams: tuple[int, int], weight: float, min_df: int = 1
    ) -> None:
        self.part = part  # "title" or "all"
        self.analyzer = analyzer  # "word" or "char"
        self.weight = weight
        self.offset = 0
        self._analyze: Any = None
        self._names: list[str] | None = None
        self.vectorizer = TfidfVectorizer(
            analyzer=analyzer,
            token_pattern=r"(?u)\S+" if analyzer == "word" else None,
            ngram_range=ngrams,
            sublinear_tf=True,
            min_df=min_df,
            max_df=1.0 if part == "title" else 0.5,
            lowercase=False,
            dtype=np.float64,
        )

    @property
    def size(self) -> int:
        return len(self.vectorizer.vocabulary_)

    def vector(self, text: str) -> tuple[npt.NDArray[np.intp], FloatArray]:
        if self._analyze is None:
            self._analyze = self.vectorizer.build_analyzer()
        vocabulary = self.vectorizer.vocabulary_
        counts: dict[int, int] = {}
        for term in self._analyze(text):
            j = vocabulary.get(term)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        idx = np.fromiter(counts, dtype=np.intp, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        values = (1.0 + np.log(tf)) * self.vectorizer.idf_[idx]
        values *= self.weight / np.sqrt(values @ values)
        return idx + self.offset, values

    def name(self, j: int) -> str:
        if self._names is None:
            names = [""] * self.size
            for term, k in self.vectorizer.vocabulary_.items():
                names[k] = term
            self._names = names
        return self._names[j - self.offset]

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__ | {"_analyze": None, "_names": None}


class LinearTextClassifier:
    """TF-IDF (jieba words 1-2 and characters 1-3, title and whole text) into a linear SVM."""

    def __init__(
        self,
        fields: Fields = "title+text",
        c: float = 1.0,
        title_weight: float = 1.0,
        max_chars: int = 600,
    ):
        if fields not in FIELDS:
            raise ValueError(f"fields must be one of {FIELDS}")
        self.fields: Fields = fields
        # The matter is stated early; reading further costs latency, not accuracy.
        self.max_chars = max_chars
        self.c = c
        self.title_weight = title_weight
        self.labels: tuple[str, ...] = ()
        self.user_words: tuple[str, ...] = ()
        self._blocks: list[_Block] = []
        self._coef: npt.NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)
        self._intercept: FloatArray = np.zeros(0)
        # Platt scaling per label, (a, b) rows in label order; None: softmax(scores × 3).
        self._platt: FloatArray | None = None
        self._temperature = 3.0
        self._tokenizer: Tokenizer | None = None
        # The console asks for probabilities and then explanations of the same draft.
        self._last: tuple[Document, npt.NDArray[np.intp], FloatArray] | None = None

    # ------------------------------------------------------------------ training

    def fit(
        self,
        docs: Sequence[Document],
        labels: Sequence[str],
        weights: Sequence[float] | None = None,
    ) -> "LinearTextClassifier":
        if len(docs) != len(labels) or not docs:
            raise ValueError("need as many labels as documents, and at least one document")
        tokenizer = self.tokenizer
        self.user_words = tokenizer.user_words
        self.labels = tuple(sorted(set(labels)))
        if self.fields == "title":
            docs, labels, weights = _with_openings(docs, labels, weights)
        self._blocks = self._make_blocks(len(docs))
        parts = self._parts(docs)
        x = sp.hstack(
            [b.weight * b.vectorizer.fit_transform(parts[b.part, b.analyzer]) for b in self._blocks]
        ).tocsr()
        offset = 0
        for block in self._blocks:
            block.offset = offset
            offset += block.size
        y = np.array(labels)
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        if len(self.labels) == 1:
            self._coef = np.zeros((1, x.shape[1]), dtype=np.float32)
            self._intercept = np.ones(1)
            return self
        svm = LinearSVC(C=self.c, class_weight="balanced")
        counts = np.unique(y, return_counts=True)[1]
        if counts.min() >= 3 and len(y) >= 30:
            # Scores become probabilities by Platt scaling on 3-fold out-of-fold scores; the
            # SVM itself is fitted once on everything (ensemble=False), so it explains too.
            cal = CalibratedClassifierCV(svm, method="sigmoid", cv=3, ensemble=False)
            cal.fit(x, y, sample_weight=w)
            calibrated = cal.calibrated_classifiers_[0]
            fitted: LinearSVC = calibrated.estimator
            self._platt = np.array([[c.a_, c.b_] for c in calibrated.calibrators])
        else:
            fitted = svm.fit(x, y, sample_weight=w)
            self._platt = None
        coef = np.asarray(fitted.coef_, dtype=np.float32)  # half the size, same ranking
        intercept = np.asarray(fitted.intercept_, dtype=np.float64)
        if coef.shape[0] == 1:  # binary: sklearn keeps one row for the second class
            coef = np.vstack([-coef, coef]).astype(np.float32)
            intercept = np.array([-intercept[0], intercept[0]])
        self._coef, self._intercept = coef, intercept
        return self

    def _make_blocks(self, n_docs: int) -> list[_Block]:
        # Terms seen once are most of the vocabulary and say little; once there is enough
        # text, dropping them keeps the model small (6,000 messages: 1.8M features → 0.4M).
        m = 2 if n_docs >= MIN_DF_FROM else 1
        tw = self.title_weight
        if self.fields == "title":
            return [
                _Block("title", "word", (1, 2), 1.0, m),
                _Block("title", "char", (1, 3), 1.0, m),
            ]
        if self.fields == "text":
            return [_Block("all", "word", (1, 2), 1.0, m), _Block("all", "char", (1, 3), 1.0, m)]
        return [
            _Block("title", "word", (1, 2), tw, m),
            _Block("title", "char", (1, 3), tw, m),
            _Block("all", "word", (1, 2), 1.0, m),
            _Block("all", "char", (1, 3), 1.0, m),
        ]

    # ------------------------------------------------------------------ prediction

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            self._tokenizer = shared_tokenizer()
            self._tokenizer.add_words(self.user_words)
        return self._tokenizer

    def _parts(self, docs: Sequence[Document]) -> dict[tuple[str, str], list[str]]:
        tok = self.tokenizer
        wanted = {(b.part, b.analyzer) for b in self._blocks}
        parts: dict[tuple[str, str], list[str]] = {key: [] for key in wanted}
        for doc in docs:
            if len(doc.text) > self.max_chars:
                doc = Document(doc.title, doc.text[: self.max_chars])
            title_words = tok.words(doc.title) if ("title", "word") in wanted else []
            for part, analyzer in wanted:
                if part == "title":
                    value = " ".join(title_words) if analyzer == "word" else doc.title
                elif analyzer == "word":
                    value = " ".join(title_words + tok.words(doc.text, hmm=False))
                else:
                    value = f"{doc.title}。{doc.text}"
                parts[part, analyzer].append(value)
        return parts

    def _features(self, docs: Sequence[Document]) -> sp.csr_matrix:
        parts = self._parts(docs)
        return sp.hstack(
            [b.weight * b.vectorizer.transform(parts[b.part, b.analyzer]) for b in self._blocks]
        ).tocsr()

    def _one(self, doc: Document) -> tuple[npt.NDArray[np.intp], FloatArray]:
        """One document's non-zero features (indices, values), as `_features` would give."""
        last = self._last
        if last is not None and last[0] == doc:
            return last[1], last[2]
        parts = self._parts([doc])
        pieces = [b.vector(parts[b.part, b.analyzer][0]) for b in self._blocks]
        idx = np.concatenate([p[0] for p in pieces])
        values = np.concatenate([p[1] for p in pieces])
        self._last = (doc, idx, values)
        return idx, values

    def _probabilities(self, scores: FloatArray) -> FloatArray:
        if self._platt is None:
            return _softmax(scores * self._temperature)
        a, b = self._platt[:, 0], self._platt[:, 1]
        if len(self.labels) == 2:
            positive = expit(-(a[0] * scores[:, 1] + b[0]))
            return np.column_stack([1.0 - positive, positive])
        proba: FloatArray = expit(-(a * scores + b))
        total = proba.sum(axis=1, keepdims=True)
        uniform = np.full_like(proba, 1.0 / len(self.labels))
        return np.where(total > 0, proba / np.where(total > 0, total, 1.0), uniform)

    def predict_proba(self, docs: Sequence[Document]) -> FloatArray:
        if not self.labels:
            raise RuntimeError("the classifier is not trained")
        if len(self.labels) == 1:
            return np.ones((len(docs), 1))
        if len(docs) == 1:
            idx, values = self._one(docs[0])
            scores = (self._coef[:, idx] @ values + self._intercept)[np.newaxis, :]
        else:
            scores = np.asarray(self._features(docs) @ self._coef.T) + self._intercept
        return self._probabilities(scores)

    def top(self, doc: Document, k: int = 3) -> list[Prediction]:
        proba = self.predict_proba([doc])[0]
        order = np.argsort(-proba)[:k]
        return [Prediction(self.labels[i], float(proba[i])) for i in order]

    def explain(self, doc: Document, label: str, n: int = 5) -> list[str]:
        """Return the words that pushed the document towards the label, strongest first."""
        if label not in self.labels or len(self.labels) == 1:
            return []
        row = self.labels.index(label)
        idx, values = self._one(doc)
        contributions: dict[str, float] = {}
        for block in self._blocks:
            if block.analyzer != "word":
                continue
            inside = (idx >= block.offset) & (idx < block.offset + block.size)
            for j, value in zip(idx[inside], values[inside], strict=True):
                weight = float(value) * self._coef[row, j]
                if weight > 0:
                    term = block.name(int(j)).replace(" ", "")
                    contributions[term] = contributions.get(term, 0.0) + weight
        ranked = sorted(contributions.items(), key=lambda kv: -kv[1])
        words: list[str] = []
        for term, _ in ranked:
            # A bigram whose parts are already listed adds nothing for the reader.
            if term not in words and not any(term in w or w in term for w in words):
                words.append(term)
            if len(words) == n:
                break
        return words

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_tokenizer"] = None
        state["_last"] = None
        return state


MIN_DF_FROM = 1_000

# A title-only model also learns from each text's opening, which reads like a title:
# +0.01 macro-F1 on the shared data (0.877 → 0.887, 5 folds).
OPENING_CHARS = 120


def _with_openings(
    docs: Sequence[Document], labels: Sequence[str], weights: Sequence[float] | None
) -> tuple[list[Document], list[str], list[float] | None]:
    more = [
        (Document(d.text[:OPENING_CHARS]), y, i)
        for i, (d, y) in enumerate(zip(docs, labels, strict=True))
        if d.text
    ]
    out_docs = list(docs) + [d for d, _, _ in more]
    out_labels = list(labels) + [y for _, y, _ in more]
    out_weights = None
    if weights is not None:
        out_weights = list(weights) + [weights[i] for _, _, i in more]
    return out_docs, out_labels, out_weights


def _softmax(scores: FloatArray) -> FloatArray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    result: FloatArray = exp / exp.sum(axis=1, keepdims=True)
    return result


def make_classifier(fields: Fields = "title+text") -> TextClassifier:
    """Return an untrained classifier of the kind the product routes with."""
    return LinearTextClassifier(fields=fields)


# ---------------------------------------------------------------------- evaluation


def evaluate(
    train_docs: Sequence[Document],
    train_labels: Sequence[str],
    test_docs: Sequence[Document],
    test_labels: Sequence[str],
    fields: Fields = "title+text",
    latency_samples: int = 500,
) -> dict[str, Any]:
    """Train a fresh model and measure it: the figures `hotline dispatch evaluate` prints.

    Latency is per single ticket, one call at a time, as the console asks for it.
    """
    model = make_classifier(fields)
    started = time.perf_counter()
    model.fit(train_docs, train_labels)
    train_seconds = time.perf_counter() - started
    scores = score(model, test_docs, test_labels)
    timings = []
    for doc in list(test_docs)[:latency_samples]:
        t0 = time.perf_counter()
        model.top(doc, 3)
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    return scores | {
        "train_seconds": round(train_seconds, 2),
        "predict_p50_ms": round(_percentile(timings, 50), 3),
        "predict_p99_ms": round(_percentile(timings, 99), 3),
        "n_train": len(train_docs),
        "n_test": len(test_docs),
        "fields": fields,
    }


def score(model: TextClassifier, docs: Sequence[Document], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, top-3 accuracy and per-label F1 of a model on labelled documents."""
    if not docs:
        return {"accuracy": None, "macro_f1": None, "top3_accuracy": None, "per_label_f1": {}}
    proba = model.predict_proba(docs)
    known = np.array(model.labels)
    ranked = np.argsort(-proba, axis=1)
    predicted = known[ranked[:, 0]]
    top3 = [label in known[ranked[i, :3]] for i, label in enumerate(labels)]
    names = sorted(set(labels) | set(predicted.tolist()))
    per_label = f1_score(labels, predicted, labels=names, average=None, zero_division=0)
    present = sorted(set(labels))
    return {
        "accuracy": round(float(accuracy_score(labels, predicted)), 4),
        "macro_f1": round(
            float(f1_score(labels, predicted, labels=present, average="macro", zero_division=0)),
            4,
        ),
        "top3_accuracy": round(sum(top3) / len(top3), 4),
        "per_label_f1": {n: round(float(f), 4) for n, f in zip(names, per_label, strict=True)},
    }


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return math.nan
    index = min(len(sorted_values) - 1, max(0, math.ceil(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


class DataError(ValueError):
    """A labelled file that cannot be read as training data."""


REQUIRED_COLUMNS = ("label", "title", "text")


def read_labelled_tsv(path: str) -> tuple[list[Document], list[str]]:
    """Read a labelled TSV (columns id, label, title, text; a header row) into documents.

    :raises DataError: the file is missing, not UTF-8, lacks a column or has no rows.
    """
    import csv

    csv.field_size_limit(2**31 - 1)
    docs: list[Document] = []
    labels: list[str] = []
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
            for line, row in enumerate(reader, start=2):
                label = (row.get("label") or "").strip()
                if not label:
                    raise DataError(f"{path}:{line}: empty label")
                docs.append(Document.of(row.get("title"), row.get("text")))
                labels.append(label)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    if not docs:
        raise DataError(f"{path}: no rows")
    return docs, labels
