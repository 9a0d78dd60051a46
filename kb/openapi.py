"""The OpenAPI paths and schemas of the knowledge base's JSON API (kb.web)."""

from typing import Any

from infra.openapi import FILE
from infra.openapi import ROW_ID
from infra.openapi import file_responses
from infra.openapi import form_body
from infra.openapi import model_ref
from infra.openapi import model_schemas
from infra.openapi import operation
from infra.openapi import path_param
from infra.openapi import query
from infra.openapi import ref
from infra.openapi import responses
from kb.commands import ArticleInput
from kb.commands import CategoryInput
from kb.commands import LinkArticles
from kb.commands import Review
from kb.commands import SynonymInput

# dispatch names its ticket review `Review` too; the knowledge base's is filed as this.
REVIEW = "KbReview"


def schemas() -> dict[str, Any]:
    """The request bodies, from the commands kb.web parses."""
    return model_schemas(
        ArticleInput, CategoryInput, LinkArticles, SynonymInput, **{REVIEW: Review}
    )


def paths() -> dict[str, Any]:
    """Search, articles and their review, categories, synonyms, links to tickets, files."""
    return _articles() | _catalogue() | _usage()


def _articles() -> dict[str, Any]:
    article_id = [path_param("article_id", ROW_ID)]
    return {
        "/api/kb/articles": {
            "get": operation(
                "知识列表（已发布；drafts=1 时编辑者另见草稿与归档）：category_id（含下级）、kind、"
                "unit_id、flagged=1（已失效或逾期未复审）、page、per_page",
                "200", "401", "422",
            ),
            "post": operation(
                "新建知识：班长、督办、管理员直接发布；联络员只能为本单位编写，审核通过后发布",
                "201", "400", "401", "403", "422", body=model_ref(ArticleInput),
            ),
        },
        "/api/kb/articles/{article_id}": {
            "get": operation(
                "知识详情：内容、标记、引用次数、版本历史", "200", "401", "404",
                parameters=article_id,
            ),
            "put": operation(
                "修改知识：编辑者直接发布新版本；本单位联络员的修改待审核，期间仍显示原发布内容",
                "200", "400", "401", "403", "404", "422", body=model_ref(ArticleInput),
                parameters=article_id,
            ),
        },
        "/api/kb/articles/{article_id}/archive": {
            "post": operation(
                "归档（archived=true，不再被搜索）或恢复（班长、督办、管理员）",
                "200", "401", "403", "404", "422", parameters=article_id,
            )
        },
        "/api/kb/reviews": {
            "get": operation(
                "待审核的版本（编辑者看全部，联络员看本单位），附现行内容", "200", "401", "403"
            )
        },
        "/api/kb/versions/{version_id}/review": {
            "post": operation(
                "审核通过（发布）或退回（须填写理由）", "200", "400", "401", "403", "404", "409",
                "422", body=ref(REVIEW), parameters=[path_param("version_id", ROW_ID)],
            )
        },
    }  # fmt: skip


def _catalogue() -> dict[str, Any]:
    category_id = [path_param("category_id", ROW_ID)]
    group_id = [path_param("group_id", ROW_ID)]
    return {
        "/api/kb/categories": {
            "get": operation("知识目录（树形顺序，带层级与文章数）", "200", "401"),
            "post": operation(
                "新建目录（编辑者）", "201", "400", "401", "403", "422",
                body=model_ref(CategoryInput),
            ),
        },
        "/api/kb/categories/{category_id}": {
            "put": operation(
                "重命名目录（编辑者）", "200", "400", "401", "403", "404", "422",
                body=model_ref(CategoryInput), parameters=category_id,
            ),
            "delete": operation(
                "删除空目录（编辑者）", "204", "401", "403", "404", "409", parameters=category_id
            ),
        },
        "/api/kb/synonyms": {
            "get": operation("同义词表", "200", "401"),
            "post": operation(
                "新增一组同义词（编辑者；一个词只属于一组）", "201", "400", "401", "403", "422",
                body=model_ref(SynonymInput),
            ),
        },
        "/api/kb/synonyms/{group_id}": {
            "put": operation(
                "修改一组同义词", "200", "400", "401", "403", "404", "422",
                body=model_ref(SynonymInput), parameters=group_id,
            ),
            "delete": operation(
                "删除一组同义词", "204", "401", "403", "404", parameters=group_id
            ),
        },
    }  # fmt: skip


def _usage() -> dict[str, Any]:
    return {
        "/api/kb/search": {
            "get": operation(
                "搜索知识库：q 为口语问题（同义词表扩展）；k 条结果（1–50，默认 10）带高亮词；"
                "draft 为正在填写的工单的 client_token（用于统计知识缺口）",
                "200", "401", "422",
                parameters=[
                    query("q", {"type": "string", "maxLength": 200}, "问题"),
                    query("k", {"type": "integer", "minimum": 1, "maximum": 50}, "结果条数"),
                    query("draft", {"type": "string", "maxLength": 64}, "工单草稿标识"),
                    query("ticket_id", ROW_ID, "在工单页搜索时的工单"),
                ],
            )
        },
        "/api/kb/links": {
            "get": operation("工单引用的知识（ticket_id）", "200", "401", "403", "404", "422"),
            "post": operation(
                "为工单引用知识（话务员、班长、督办、管理员、值班领导）：计入知识的使用次数",
                "201", "400", "401", "403", "404", "422", body=model_ref(LinkArticles),
            ),
        },
        "/api/kb/gaps": {
            "get": operation(
                "知识缺口（days 天内）：展示过却未被引用、工单仍被派出的知识；无结果的搜索",
                "200", "401", "403", "422",
            )
        },
        "/api/kb/import": {
            "post": {
                "summary": "导入 Markdown、DOCX 或 XLSX 文件（multipart 字段 file，≤ 10 MB）："
                "全部成功或全部不导入；错误逐条列出（details.problems）",
                "requestBody": form_body({"type": "object", "properties": {"file": FILE}}),
                "responses": responses("201", {"type": "object"}, "401", "403", "422"),
            }
        },
        "/api/kb/export": {
            "get": {
                "summary": "导出已发布知识：format=xlsx（默认）或 md，可按目录、类型、单位筛选",
                "responses": file_responses("文件", "401", "422"),
            }
        },
    }  # fmt: skip
