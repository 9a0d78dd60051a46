"""The knowledge base (知识库): articles and their review, search, and their use on tickets.

- domain.py: vocabulary and validity rules (kinds, version states, flags); stdlib only.
- search.py: BM25 ranking over words and bigrams, the synonym table's expansion; pure.
- models.py: the kb_* tables.
- commands.py: validated inputs of the use cases.
- shared.py: who may do what, and an article's summary; shared by the use cases below.
- articles.py: writing articles, reviewing the units' changes, archiving, reading, listing.
- catalogue.py: the category tree and lookups by path.
- synonyms.py: the synonym groups the editors keep.
- usage.py: searches (logged), articles linked to tickets, use counts, the gaps.
- bulk.py: import from a file, export, reminders to owners of stale articles.
- index.py: each process's in-memory index, and the terms stored with each live article.
- transfer.py: Markdown, Word and Excel files in and out.
- jobs.py: the rq jobs (indexing, reminders) and their place on the schedule.
- demo_content.py: the demo articles and synonyms.
- web.py: the JSON API; openapi.py: its paths in the OpenAPI document; cli.py: the
  `hotline kb` commands; wiring.py: the typed container.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: "Flask") -> None:
    """Register the kb package's JSON API on the app (the composition root calls this)."""
    from kb.web import bp

    app.register_blueprint(bp)
