"""JSON API of the knowledge base: parse, call a service, serialise. No rules here."""

import datetime as dt
import io
from typing import Any

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request
from flask import send_file

from infra.http import current_actor
from infra.http import login_required
from infra.http import parse_body
from infra.http import takes_files
from kb import articles
from kb import bulk
from kb import catalogue
from kb import synonyms as synonym_groups
from kb import usage
from kb.commands import ArticleInput
from kb.commands import CategoryInput
from kb.commands import LinkArticles
from kb.commands import Review
from kb.commands import SynonymInput
from kb.domain import ArticleKind
from kb.transfer import read_articles
from kb.transfer import write_markdown
from kb.transfer import write_xlsx
from kb.wiring import container
from kernel.errors import ValidationError

bp = Blueprint("kb", __name__, url_prefix="/api/kb")

MAX_IMPORT_BYTES = 10 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def today() -> dt.date:
    """Today in the hotline's time zone (validity and review dates are local dates)."""
    return container().dispatch.today()


def _int(
    args: Any, name: str, default: int | None = None, low: int = 1, high: int = 10**9
) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValidationError({name: f"应为 {low} 到 {high} 之间的整数"})
    return int(raw)


def parse_article_filter(args: Any) -> articles.ArticleFilter:
    kind = args.get("kind") or None
    if kind is not None and kind not in ArticleKind.__members__.values():
        raise ValidationError(
            {"kind": f"取值无效，可选：{', '.join(k.value for k in ArticleKind)}"}
        )
    return articles.ArticleFilter(
        category_id=_int(args, "category_id"),
        kind=ArticleKind(kind) if kind else None,
        unit_id=_int(args, "unit_id"),
        flagged=args.get("flagged") in ("1", "true"),
        include_drafts=args.get("drafts") in ("1", "true"),
        page=_int(args, "page", 1) or 1,
        per_page=_int(args, "per_page", 50, high=200) or 50,
    )


@bp.get("/search")
@login_required()
def search() -> Response:
    """The best live articles for a plain-Chinese question, matched words to highlight."""
    draft = request.args.get("draft") or None
    if draft is not None and len(draft) > 64:
        raise ValidationError({"draft": "草稿标识过长"})
    c = container()
    return jsonify(
        usage.search(
            c.uow(),
            c.kb_index,
            current_actor(),
            request.args.get("q", ""),
            today(),
            k=_int(request.args, "k", 10, high=50) or 10,
            draft=draft,
            ticket_id=_int(request.args, "ticket_id"),
        )
    )


@bp.get("/articles")
@login_required()
def list_articles() -> Response:
    f = parse_article_filter(request.args)
    return jsonify(articles.list_articles(container().uow(), current_actor(), f, today()))


@bp.post("/articles")
@login_required()
def create_article() -> tuple[Response, int]:
    cmd = parse_body(ArticleInput)
    return jsonify(articles.create_article(container().uow(), current_actor(), cmd)), 201


@bp.get("/articles/<int:article_id>")
@login_required()
def get_article(article_id: int) -> Response:
    view = articles.article_view(container().uow(), current_actor(), article_id, today())
    return jsonify(view)


@bp.put("/articles/<int:article_id>")
@login_required()
def update_article(article_id: int) -> Response:
    cmd = parse_body(ArticleInput)
    return jsonify(articles.update_article(container().uow(), current_actor(), article_id, cmd))


@bp.post("/articles/<int:article_id>/archive")
@login_required()
def archive(article_id: int) -> Response:
    body = request.get_json(silent=True) or {}
    archived = body.get("archived", True) if isinstance(body, dict) else True
    if not isinstance(archived, bool):
        raise ValidationError({"archived": "应为 true 或 false"})
    articles.set_archived(container().uow(), current_actor(), article_id, archived)
    return jsonify({"id": article_id, "archived": archived})


@bp.get("/reviews")
@login_required()
def reviews() -> Response:
    return jsonify({"items": articles.pending_reviews(container().uow(), current_actor())})


@bp.post("/versions/<int:version_id>/review")
@login_required()
def review(version_id: int) -> Response:
    cmd = parse_body(Review)
    return jsonify(articles.review(container().uow(), current_actor(), version_id, cmd))


@bp.get("/categories")
@login_required()
def categories() -> Response:
    return jsonify({"items": catalogue.category_tree(container().uow())})


@bp.post("/categories")
@login_required()
def create_category() -> tuple[Response, int]:
    cmd = parse_body(CategoryInput)
    return jsonify(catalogue.create_category(container().uow(), current_actor(), cmd)), 201


@bp.put("/categories/<int:category_id>")
@login_required()
def rename_category(category_id: int) -> Response:
    cmd = parse_body(CategoryInput)
    catalogue.rename_category(container().uow(), current_actor(), category_id, cmd.name)
    return jsonify({"id": category_id, "name": cmd.name})


@bp.delete("/categories/<int:category_id>")
@login_required()
def delete_category(category_id: int) -> tuple[str, int]:
    catalogue.delete_category(container().uow(), current_actor(), category_id)
    return "", 204


@bp.get("/synonyms")
@login_required()
def synonyms() -> Response:
    return jsonify({"items": synonym_groups.list_synonyms(container().uow())})


@bp.post("/synonyms")
@login_required()
def create_synonyms() -> tuple[Response, int]:
    cmd = parse_body(SynonymInput)
    return jsonify(synonym_groups.save_synonyms(container().uow(), current_actor(), cmd)), 201


@bp.put("/synonyms/<int:group_id>")
@login_required()
def update_synonyms(group_id: int) -> Response:
    cmd = parse_body(SynonymInput)
    return jsonify(synonym_groups.save_synonyms(container().uow(), current_actor(), cmd, group_id))


@bp.delete("/synonyms/<int:group_id>")
@login_required()
def delete_synonyms(group_id: int) -> tuple[str, int]:
    synonym_groups.delete_synonyms(container().uow(), current_actor(), group_id)
    return "", 204


@bp.post("/links")
@login_required()
def link() -> tuple[Response, int]:
    cmd = parse_body(LinkArticles)
    items = usage.link_articles(container().uow(), current_actor(), cmd)
    return jsonify({"ticket_id": cmd.ticket_id, "items": items}), 201


@bp.get("/links")
@login_required()
def links() -> Response:
    from dispatch.tickets import reads

    ticket_id = _int(request.args, "ticket_id")
    if ticket_id is None:
        raise ValidationError({"ticket_id": "必填"})
    c = container()
    reads.get_ticket(
        c.uow(), c.dispatch, current_actor(), ticket_id
    )  # the ticket's own access rule
    return jsonify({"ticket_id": ticket_id, "items": usage.ticket_articles(c.uow(), ticket_id)})


@bp.get("/gaps")
@login_required()
def gaps() -> Response:
    days = _int(request.args, "days", 30, high=366) or 30
    since = container().dispatch.now() - dt.timedelta(days=days)
    return jsonify(usage.gaps(container().uow(), current_actor(), since, today()))


def import_upload(field: str = "file") -> dict[str, Any]:
    """Read the uploaded file, import it all or nothing, and queue its indexing."""
    from kb.jobs import enqueue_kb_reindex

    upload = request.files.get(field)
    if upload is None or not upload.filename:
        raise ValidationError({"file": "请选择要导入的文件"}, "没有收到文件")
    try:
        data = upload.read(MAX_IMPORT_BYTES + 1)
    finally:
        upload.close()
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationError(
            {"file": f"文件超过 {MAX_IMPORT_BYTES // 1024 // 1024} MB"}, "文件过大，未导入"
        )
    records = read_articles(upload.filename, data)
    c = container()
    result = bulk.import_articles(c.uow(), current_actor(), records)
    if result["published"]:
        result["index_job"] = enqueue_kb_reindex(c.redis)
    return result


@bp.post("/import")
@takes_files()
@login_required()
def import_file() -> tuple[Response, int]:
    return jsonify(import_upload()), 201


@bp.get("/export")
@login_required()
def export() -> Response:
    fmt = request.args.get("format", "xlsx")
    if fmt not in ("xlsx", "md"):
        raise ValidationError({"format": "可选 xlsx 或 md"})
    args = request.args.to_dict()
    args.pop("format", None)
    records = bulk.export_records(container().uow(), current_actor(), parse_article_filter(args))
    stamp = today().isoformat()
    if fmt == "md":
        data = write_markdown(records).encode("utf-8")
        mime, name = "text/markdown; charset=utf-8", f"知识库-{stamp}.md"
    else:
        data, mime, name = write_xlsx(records), XLSX, f"知识库-{stamp}.xlsx"
    return send_file(io.BytesIO(data), mimetype=mime, as_attachment=True, download_name=name)
