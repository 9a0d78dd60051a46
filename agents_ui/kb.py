"""Pages of the knowledge base (知识库): search and browse, articles and their review, the
catalogue, synonyms, gaps, import and export.

Plain HTML forms as in the admin area (agents_ui/admin.py): every POST carries the session's
CSRF token as a field, redirects after success with a flash message, and re-renders with 422
and the messages next to the fields when input is refused. Who may do what is decided by
the `kb` use cases (kb.shared); the roles below only choose which links and forms a page offers.
"""

import datetime as dt
import difflib
import re
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

import pydantic
from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from markupsafe import Markup
from markupsafe import escape
from werkzeug.wrappers import Response

from agents_ui.web import page
from agents_ui.web import render_page
from agents_ui.wiring import container
from dispatch.tickets.units import list_units
from infra.errors import validation_details
from infra.http import current_actor
from infra.http import takes_files
from kb import articles
from kb import catalogue
from kb import shared
from kb import synonyms as synonym_groups
from kb import usage
from kb.commands import ArticleInput
from kb.commands import CategoryInput
from kb.commands import Review
from kb.commands import SynonymInput
from kb.domain import KIND_LABELS
from kb.domain import ArticleKind
from kb.domain import Validity
from kb.index import index_pending
from kb.transfer import ImportRefused
from kb.web import import_upload
from kb.web import parse_article_filter
from kb.web import today
from kernel.errors import Conflict
from kernel.errors import NotFound
from kernel.errors import ValidationError
from kernel.roles import SUPERVISE_ROLES
from kernel.roles import Role

bp = Blueprint("kb_pages", __name__, template_folder="templates", url_prefix="/kb")

EDITOR_ROLES = tuple(SUPERVISE_ROLES)  # as kb.shared.EDITORS
WRITER_ROLES = (*EDITOR_ROLES, Role.LIAISON)
Page = str | tuple[str, int] | Response

GUIDE_FIELDS = (
    ("materials", "申请材料"),
    ("fees", "收费标准"),
    ("place", "办理地点"),
    ("hours", "办理时间"),
)
FIELD_LABELS: dict[str, str] = {
    "title": "标题",
    "body": "正文",
    "kind": "类型",
    "category_id": "知识目录",
    "unit_id": "所属单位",
    **dict(GUIDE_FIELDS),
    "source_doc": "来源文件",
    "doc_number": "文号",
    "valid_from": "生效日期",
    "valid_until": "失效日期",
    "review_by": "复审日期",
    "tags": "标签",
}
TEXT_FIELDS = ("title", "body", "materials", "fees", "place", "hours", "source_doc", "doc_number")
DATE_FIELDS = ("valid_from", "valid_until", "review_by")
GAP_DAYS = (7, 30, 90)
# What people type between tags and between synonyms: 、 , ， ; ； (and spaces for synonyms).
_TAG_SPLIT = re.compile(r"[、,，;；\n]+")
_WORD_SPLIT = re.compile(r"[\s、,，;；]+")
_DIFF_CONTEXT = 2  # unchanged body lines kept around each change on the review page


# ---------------------------------------------------------------- helpers


@bp.app_template_filter("highlight")
def highlight(text: str | None, words: Iterable[str] | None) -> Markup:
    """Escape the text, then wrap each occurrence of the words in <mark> (longest first)."""
    text = text or ""
    found = sorted({w for w in words or () if w and w.strip()}, key=len, reverse=True)
    if not found:
        return escape(text)
    parts: list[Markup] = []
    at = 0
    for match in re.finditer("|".join(re.escape(w) for w in found), text):
        parts.append(escape(text[at : match.start()]))
        parts.append(Markup("<mark>{}</mark>").format(match.group()))
        at = match.end()
    parts.append(escape(text[at:]))
    return Markup("").join(parts)


def _render(template: str, status: int = 200, **context: Any) -> Page:
    """A knowledge-base page, with what the tabs need to know about the reader."""
    actor = current_actor()
    editor = shared.is_editor(actor)
    liaison = actor.role is Role.LIAISON and actor.unit_id is not None
    pending = len(articles.pending_reviews(container().uow(), actor)) if editor or liaison else 0
    html = render_page(
        template,
        editor=editor,
        liaison=liaison,
        writer=editor or liaison,
        pending_count=pending,
        kind_labels=KIND_LABELS,
        **context,
    )
    return (html, status) if status != 200 else html


def _messages(exc: pydantic.ValidationError, whole: str, noun: str = "项") -> dict[str, str]:
    """Field messages of a refused form; errors of the whole input go to `whole`."""
    fields: dict[str, str] = {}
    for key, message in validation_details(exc).items():
        name = key.split(".")[0]
        fields.setdefault(whole if name == "_body" else name, message)
    for err in exc.errors():  # pydantic's own English for a too-short list
        if err["type"] == "too_short" and err["loc"]:
            least = (err.get("ctx") or {}).get("min_length")
            fields[str(err["loc"][0])] = f"至少需要{least}{noun}"
    return fields


def _refused(message: str) -> str:
    return f"{message}，请按输入框下方的提示修改后重新提交。"


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdecimal() and len(raw) < 10 else None


# ---------------------------------------------------------------- search and browse


@bp.get("/")
@page()
def index() -> Page:
    """Search with a citizen's words, or browse by catalogue, kind and flags."""
    c = container()
    actor = current_actor()
    q = " ".join(request.args.get("q", "").split())[:200]
    errors: dict[str, str] = {}
    try:
        f = parse_article_filter(request.args)
    except ValidationError as exc:
        f, errors = articles.ArticleFilter(), exc.field_errors
    results = listing = None
    if q:
        results = usage.search(c.uow(), c.kb_index, actor, q, today(), k=20)
        with c.uow() as uow:
            used = usage.usage(uow.session, [a["id"] for a in results["items"]])
        for item in results["items"]:
            item["usage"] = used[item["id"]]
    else:
        listing = articles.list_articles(c.uow(), actor, f, today())
    flagged = 0
    if actor.role is Role.LIAISON and actor.unit_id is not None:
        mine = articles.ArticleFilter(unit_id=actor.unit_id, flagged=True, per_page=1)
        flagged = articles.list_articles(c.uow(), actor, mine, today())["total"]
    filters = {
        k: v
        for k, v in request.args.items()
        if k in ("category_id", "kind", "unit_id", "flagged", "drafts")
    }
    return _render(
        "kb_index.html",
        status=422 if errors else 200,
        q=q,
        f=f,
        filters=filters,
        errors=errors,
        results=results,
        listing=listing,
        tree=catalogue.category_tree(c.uow()),
        flagged_count=flagged,
        kinds=list(ArticleKind),
    )


# ---------------------------------------------------------------- one article


@bp.get("/articles/<int:article_id>")
@page()
def article(article_id: int) -> Page:
    view = articles.article_view(container().uow(), current_actor(), article_id, today())
    return _render("kb_article.html", a=view, guide_fields=GUIDE_FIELDS)


@bp.post("/articles/<int:article_id>/archive")
@page(*EDITOR_ROLES)
def archive(article_id: int) -> Page:
    archived = request.form.get("archived") == "1"
    articles.set_archived(container().uow(), current_actor(), article_id, archived)
    flash("已归档，不再出现在搜索结果中" if archived else "已恢复，重新可以搜索到")
    return redirect(url_for("kb_pages.article", article_id=article_id))


def _form_from(content: Mapping[str, Any]) -> dict[str, str]:
    """An article's content (or a version's) as the strings the form shows."""
    form = {k: str(content.get(k) or "") for k in (*TEXT_FIELDS, *DATE_FIELDS)}
    form["kind"] = str(content.get("kind") or ArticleKind.FAQ.value)
    for k in ("category_id", "unit_id"):
        form[k] = str(content[k]) if content.get(k) else ""
    form["tags"] = "、".join(content.get("tags") or [])
    form["note"] = ""
    return form


def _date(raw: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


def _article_input(form: Mapping[str, str]) -> ArticleInput:
    """Build the command from the form's strings; pydantic converts them (not strict)."""
    actor = current_actor()
    data: dict[str, Any] = {k: form.get(k, "") for k in (*TEXT_FIELDS, "note")}
    data["kind"] = form.get("kind") or ArticleKind.FAQ.value
    for k in ("category_id", "unit_id", *DATE_FIELDS):
        data[k] = form.get(k, "").strip() or None
    if actor.role is Role.LIAISON:
        data["unit_id"] = actor.unit_id  # a liaison writes for their own unit only
    data["tags"] = [t.strip() for t in _TAG_SPLIT.split(form.get("tags", "")) if t.strip()]
    return ArticleInput.model_validate(data, strict=False)


def _article_errors(exc: pydantic.ValidationError, form: Mapping[str, str]) -> dict[str, str]:
    errors = _messages(exc, "_form")
    # The one rule over the whole article is that its dates agree: say it next to the dates.
    dates = {k: _date(form.get(k, "")) for k in DATE_FIELDS}
    placed = Validity(**dates).problems()
    if placed:
        errors.pop("_form", None)
        errors.update(placed)
    return errors


def _form_page(
    form: dict[str, str],
    errors: dict[str, str] | None = None,
    editing: dict[str, Any] | None = None,
    notice: str = "",
    status: int = 200,
) -> Page:
    c = container()
    alert = None
    if errors:
        alert = errors.get("_form") or _refused("提交的内容有误")
    return _render(
        "kb_form.html",
        status=status,
        form=form,
        errors=errors or {},
        alert=alert,
        editing=editing,
        notice=notice,
        tree=catalogue.category_tree(c.uow()),
        units=list_units(c.uow()),
        kinds=list(ArticleKind),
        guide_fields=GUIDE_FIELDS,
    )


def _saved(result: Mapping[str, Any]) -> Response:
    published = result["status"] == "published"
    flash("已发布" if published else "已提交审核，审核通过后生效")
    return redirect(url_for("kb_pages.article", article_id=result["id"]))


@bp.get("/articles/new")
@page(*WRITER_ROLES)
def new_article() -> Page:
    form = _form_from({})
    form["category_id"] = str(_int_arg("category_id") or "")
    return _form_page(form)


@bp.post("/articles/new")
@page(*WRITER_ROLES)
def create_article() -> Page:
    form = {k: request.form.get(k, "") for k in (*FIELD_LABELS, "note")}
    try:
        cmd = _article_input(form)
        result = articles.create_article(container().uow(), current_actor(), cmd)
    except pydantic.ValidationError as exc:
        return _form_page(form, _article_errors(exc, form), status=422)
    except ValidationError as exc:
        return _form_page(form, exc.field_errors, status=422)
    return _saved(result)


def _editable(article_id: int) -> dict[str, Any]:
    view = articles.article_view(container().uow(), current_actor(), article_id, today())
    if not view["may_edit"]:
        abort(403)
    return view


def _pending(view: Mapping[str, Any]) -> dict[str, Any] | None:
    pending = [v for v in view["versions"] if v["status"] == "pending"]
    return pending[-1] if pending else None


@bp.get("/articles/<int:article_id>/edit")
@page(*WRITER_ROLES)
def edit_article(article_id: int) -> Page:
    view = _editable(article_id)
    pending = _pending(view)
    form, notice = _form_from(view), ""
    if pending is not None and current_actor().role is Role.LIAISON:
        # Carry on from the change still waiting, which a new one replaces.
        form = _form_from(pending["content"])
        notice = f"下面是本单位待审核的修改（第{pending['number']}版）；再次提交将替换它。"
    elif pending is not None:
        notice = (
            f"{pending['author_unit']}提交的修改（第{pending['number']}版）正在等待审核；"
            "在此保存将直接发布，请先到「待审核」处理该修改。"
        )
    return _form_page(form, editing=view, notice=notice)


@bp.post("/articles/<int:article_id>/edit")
@page(*WRITER_ROLES)
def update_article(article_id: int) -> Page:
    view = _editable(article_id)
    form = {k: request.form.get(k, "") for k in (*FIELD_LABELS, "note")}
    try:
        cmd = _article_input(form)
        result = articles.update_article(container().uow(), current_actor(), article_id, cmd)
    except pydantic.ValidationError as exc:
        return _form_page(form, _article_errors(exc, form), editing=view, status=422)
    except ValidationError as exc:
        return _form_page(form, exc.field_errors, editing=view, status=422)
    return _saved(result)


# ---------------------------------------------------------------- review


def _shown(name: str, value: Any, units: Mapping[int, str], paths: Mapping[int, str]) -> str:
    """A content value as people read it."""
    if value in (None, "", []):
        return ""
    if name == "kind":
        return KIND_LABELS[ArticleKind(value)]
    if name == "category_id":
        return paths.get(value, f"目录 {value}")
    if name == "unit_id":
        return units.get(value, f"单位 {value}")
    if name == "tags":
        return "、".join(value)
    return str(value)


def body_diff(old: str, new: str) -> list[dict[str, Any]]:
    """The two texts side by side, line by line; long unchanged runs folded."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[dict[str, Any]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            same = a[i1:i2]
            if len(same) > 2 * _DIFF_CONTEXT + 1:
                head = same[:_DIFF_CONTEXT] if rows else []
                tail = same[-_DIFF_CONTEXT:] if i2 < len(a) or j2 < len(b) else []
                rows += [{"old": x, "new": x, "changed": False} for x in head]
                rows.append({"folded": len(same) - len(head) - len(tail)})
                rows += [{"old": x, "new": x, "changed": False} for x in tail]
            else:
                rows += [{"old": x, "new": x, "changed": False} for x in same]
            continue
        left, right = a[i1:i2], b[j1:j2]
        for k in range(max(len(left), len(right))):
            rows.append(
                {
                    "old": left[k] if k < len(left) else None,
                    "new": right[k] if k < len(right) else None,
                    "changed": True,
                }
            )
    return rows


def _changes(
    version: Mapping[str, Any], units: Mapping[int, str], paths: Mapping[int, str]
) -> list[dict[str, Any]]:
    """The fields a pending version changes, live value beside proposed (all, when new)."""
    live = version["live"] or {}
    proposed = version["content"]
    out = []
    for name, label in FIELD_LABELS.items():
        old = _shown(name, live.get(name), units, paths)
        new = _shown(name, proposed.get(name), units, paths)
        if old == new:
            continue
        row: dict[str, Any] = {"name": name, "label": label, "old": old, "new": new}
        if name == "body" and old:
            row["diff"] = body_diff(old, new)
        out.append(row)
    return out


def _reviews_page(
    errors: dict[int, str] | None = None,
    notes: dict[int, str] | None = None,
    alert: str | None = None,
    status: int = 200,
) -> Page:
    c = container()
    items = articles.pending_reviews(c.uow(), current_actor())
    units = {u["id"]: u["name"] for u in list_units(c.uow())}
    paths = {cat["id"]: cat["path"] for cat in catalogue.category_tree(c.uow())}
    for v in items:
        v["changes"] = _changes(v, units, paths)
    return _render(
        "kb_reviews.html",
        status=status,
        items=items,
        errors=errors or {},
        notes=notes or {},
        alert=alert,
    )


@bp.get("/reviews")
@page(*WRITER_ROLES)
def reviews() -> Page:
    return _reviews_page()


@bp.post("/versions/<int:version_id>/review")
@page(*EDITOR_ROLES)
def review(version_id: int) -> Page:
    approve = request.form.get("decision") == "approve"
    note = request.form.get("note", "")
    try:
        cmd = Review.model_validate({"approve": approve, "note": note}, strict=False)
        result = articles.review(container().uow(), current_actor(), version_id, cmd)
    except pydantic.ValidationError as exc:
        message = next(iter(_messages(exc, "note").values()))
        return _reviews_page({version_id: message}, {version_id: note}, _refused(message), 422)
    except (Conflict, NotFound) as exc:
        return _reviews_page(alert=exc.message, status=409 if isinstance(exc, Conflict) else 404)
    if approve:
        flash(f"已通过：第{result['version']}版已发布")
    else:
        flash(f"已退回第{result['version']}版，提交单位可在该知识的版本记录中看到退回理由")
    return redirect(url_for("kb_pages.reviews"))


# ---------------------------------------------------------------- synonyms


def _words(raw: str) -> list[str]:
    return [w for w in _WORD_SPLIT.split(raw) if w]


def _synonyms_page(
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    alert: str | None = None,
    status: int = 200,
) -> Page:
    """`errors` and `values` are keyed "new" (the add form) or the group's id as text."""
    groups = synonym_groups.list_synonyms(container().uow())
    return _render(
        "kb_synonyms.html",
        status=status,
        groups=groups,
        errors=errors or {},
        values=values or {},
        alert=alert,
    )


def _save_synonyms(key: str, group_id: int | None) -> Page:
    raw = request.form.get("words", "")
    try:
        cmd = SynonymInput(words=_words(raw))
        synonym_groups.save_synonyms(container().uow(), current_actor(), cmd, group_id)
    except pydantic.ValidationError as exc:
        message = next(iter(_messages(exc, "words", noun="个词").values()))
        return _synonyms_page({key: message}, {key: raw}, _refused("同义词有误"), 422)
    except ValidationError as exc:
        message = exc.field_errors.get("words", exc.message)
        return _synonyms_page({key: message}, {key: raw}, _refused(exc.message), 422)
    flash(f"已{'保存' if group_id else '添加'}同义词：{'、'.join(cmd.words)}（搜索即时生效）")
    return redirect(url_for("kb_pages.synonyms"))


@bp.get("/synonyms")
@page(*EDITOR_ROLES)
def synonyms() -> Page:
    return _synonyms_page()


@bp.post("/synonyms")
@page(*EDITOR_ROLES)
def create_synonyms() -> Page:
    return _save_synonyms("new", None)


@bp.post("/synonyms/<int:group_id>")
@page(*EDITOR_ROLES)
def update_synonyms(group_id: int) -> Page:
    return _save_synonyms(str(group_id), group_id)


@bp.post("/synonyms/<int:group_id>/delete")
@page(*EDITOR_ROLES)
def delete_synonyms(group_id: int) -> Page:
    synonym_groups.delete_synonyms(container().uow(), current_actor(), group_id)
    flash("已删除该组同义词")
    return redirect(url_for("kb_pages.synonyms"))


# ---------------------------------------------------------------- catalogue


def _categories_page(
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    alert: str | None = None,
    status: int = 200,
) -> Page:
    """`errors` and `values` are keyed "new", "parent" or the category's id as text."""
    return _render(
        "kb_categories.html",
        status=status,
        tree=catalogue.category_tree(container().uow()),
        errors=errors or {},
        values=values or {},
        alert=alert,
    )


@bp.get("/categories")
@page(*EDITOR_ROLES)
def categories() -> Page:
    return _categories_page()


@bp.post("/categories")
@page(*EDITOR_ROLES)
def create_category() -> Page:
    name, parent = request.form.get("name", ""), request.form.get("parent_id", "")
    values = {"new": name, "parent": parent}
    try:
        cmd = CategoryInput.model_validate(
            {"name": name, "parent_id": parent or None}, strict=False
        )
        catalogue.create_category(container().uow(), current_actor(), cmd)
    except pydantic.ValidationError as exc:
        found = _messages(exc, "name")
        errors = {"new": found.get("name", ""), "parent": found.get("parent_id", "")}
        return _categories_page(errors, values, _refused("目录有误"), 422)
    except ValidationError as exc:
        errors = {
            "new": exc.field_errors.get("name", ""),
            "parent": exc.field_errors.get("parent_id", ""),
        }
        return _categories_page(errors, values, _refused(exc.message), 422)
    flash(f"已添加目录「{cmd.name}」")
    return redirect(url_for("kb_pages.categories"))


@bp.post("/categories/<int:category_id>")
@page(*EDITOR_ROLES)
def rename_category(category_id: int) -> Page:
    name, key = request.form.get("name", ""), str(category_id)
    try:
        catalogue.rename_category(container().uow(), current_actor(), category_id, name)
    except pydantic.ValidationError as exc:
        message = next(iter(_messages(exc, "name").values()))
        return _categories_page({key: message}, {key: name}, _refused("目录名称有误"), 422)
    except ValidationError as exc:
        message = exc.field_errors.get("name", exc.message)
        return _categories_page({key: message}, {key: name}, _refused(exc.message), 422)
    flash(f"已重命名为「{name.strip()}」")
    return redirect(url_for("kb_pages.categories"))


@bp.post("/categories/<int:category_id>/delete")
@page(*EDITOR_ROLES)
def delete_category(category_id: int) -> Page:
    try:
        catalogue.delete_category(container().uow(), current_actor(), category_id)
    except Conflict as exc:
        return _categories_page({str(category_id): exc.message}, alert=exc.message, status=409)
    flash("已删除目录")
    return redirect(url_for("kb_pages.categories"))


# ---------------------------------------------------------------- gaps


@bp.get("/gaps")
@page(*WRITER_ROLES)
def gaps() -> Page:
    """Articles shown but not used while tickets went to units anyway; searches with no answer."""
    days = _int_arg("days")
    days = days if days in GAP_DAYS else 30
    c = container()
    since = c.dispatch.now() - dt.timedelta(days=days)
    result = usage.gaps(c.uow(), current_actor(), since, today())
    return _render("kb_gaps.html", gaps=result, days=days, choices=GAP_DAYS)


# ---------------------------------------------------------------- import and export


def _import_page(**context: Any) -> Page:
    status = context.pop("status", 200)
    context.setdefault("problems", None)
    context.setdefault("errors", {})
    return _render("kb_import.html", status=status, **context)


@bp.get("/import")
@page(*WRITER_ROLES)
def import_form() -> Page:
    return _import_page()


@bp.post("/import")
@takes_files()
@page(*WRITER_ROLES)
def import_post() -> Page:
    """Import a whole file or nothing; editors' articles are indexed to be searchable."""
    name = getattr(request.files.get("file"), "filename", "") or ""
    try:
        result = import_upload()
    except ImportRefused as exc:
        return _import_page(
            problems=exc.details["problems"],
            problem_count=exc.details.get("problem_count"),
            filename=name,
            alert=exc.message,
            status=422,
        )
    except ValidationError as exc:
        return _import_page(errors=exc.field_errors, alert=exc.message, status=422)
    n = result["created"]
    if not result["published"]:
        flash(f"已导入 {n} 篇，审核通过后生效")
    elif result.get("index_job"):
        flash(f"已导入 {n} 篇，正在后台建立搜索索引，通常一分钟内即可搜索到")
    else:
        # The job could not be queued (no Redis): index here, so the articles are found now.
        with container().uow() as uow:
            index_pending(uow.session)
        flash(f"已导入 {n} 篇，已建立搜索索引")
    return redirect(url_for("kb_pages.import_form"))
