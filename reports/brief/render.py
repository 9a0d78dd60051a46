"""Render a weekly brief (周报) as HTML, PDF or DOCX: `render` picks the format.

The Brief is first laid out once (reports.brief.layout); the HTML template
(`templates/brief.html`, Jinja2, autoescaped) and the DOCX writer (reports.brief.docx_writer)
both walk those blocks, so the three formats say the same thing. The PDF is WeasyPrint over
the standalone HTML and its print stylesheet.

Everything shown comes from the Brief. Ticket titles and summaries are citizens' and units' own
words: the template escapes them and the DOCX holds them as plain text runs.
"""

from collections.abc import Callable
from typing import Final

import jinja2

from reports.brief.content import Brief
from reports.brief.docx_writer import render_docx
from reports.brief.layout import date_in_words
from reports.brief.layout import layout
from reports.brief.layout import week_in_words

MEDIA_TYPES: Final = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}

# ---------------------------------------------------------------- HTML and PDF

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("reports.brief", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def render_html(brief: Brief, *, standalone: bool = True) -> str:
    """The brief as a complete HTML page, or just its `<article>` for a page of the web UI."""
    return _ENV.get_template("brief.html").render(
        brief=brief,
        sections=layout(brief),
        standalone=standalone,
        week=week_in_words(brief.week),
        generated=f"{date_in_words(brief.generated_at)} {brief.generated_at:%H:%M}",
    )


def render_pdf(brief: Brief) -> bytes:
    """The brief as an A4 PDF: WeasyPrint over the standalone HTML and its print stylesheet."""
    # Imported here: WeasyPrint loads Pango and fontconfig, which only the PDF needs.
    import weasyprint  # type: ignore[import-untyped, unused-ignore]

    pdf: bytes = weasyprint.HTML(string=render_html(brief), base_url=None).write_pdf()
    return pdf


# ---------------------------------------------------------------- dispatch

_RENDERERS: Final[dict[str, Callable[[Brief], bytes]]] = {
    "html": lambda brief: render_html(brief).encode("utf-8"),
    "pdf": render_pdf,
    "docx": render_docx,
}


def render(brief: Brief, fmt: str) -> bytes:
    """The brief in `fmt` (html, pdf or docx) as bytes, to serve with MEDIA_TYPES[fmt]."""
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"不支持的周报格式：{fmt!r}（可选：html、pdf、docx）") from None
    return renderer(brief)
