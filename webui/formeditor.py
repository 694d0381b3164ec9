"""The form editor: a draft's task or application form as fields, with a live preview drawn by the task page's code."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request

from engine.errors import Conflict, Forbidden, NotFound
from engine.models import ProcedureDraft
from engine.people import access
from engine.procedures.formdesign import (
    FIELD_TYPES,
    FORM_NAME,
    FormDesignRefused,
    design_from_files,
    file_texts,
    files_from_design,
    form_paths,
)

from . import formrender, helpers
from .auth import login_required
from .cases import check_form
from .i18n import t

bp = Blueprint("formeditor", __name__)

# The words formeditor.js puts on the page.
JS_LABELS = ("fe_options", "fe_option_value", "fe_option_label", "fe_remove_option", "fe_add_option", "fe_untitled",
             "fe_up", "fe_down", "fe_remove", "fe_key", "fe_label", "fe_type", "fe_required", "fe_raw_note",
             "fe_min_length", "fe_max_length", "fe_pattern", "fe_rows", "fe_min", "fe_max", "fe_exclusive",
             "fe_widget", "fe_widget_auto", "fe_widget_radio", "fe_widget_select", "fe_description", "fe_help",
             "fe_placeholder", "fe_failed", "fe_has_errors", "fe_sample_bad", "fe_sample_ok", "fe_unsaved",
             "fe_saving", "fe_save_failed", "fe_saved", "fe_saved_problems")


def _form_files(draft_id: int, name: str) -> tuple[ProcedureDraft, str | None, str | None]:
    """The draft and the form's two texts, after the checks every request of this editor makes."""
    if not access.may_model(g.user):
        raise Forbidden("只有系统管理员可以编辑办事流程的表单")
    if not FORM_NAME.fullmatch(name):
        raise NotFound("表单名称无效：应以小写英文字母开头，只含小写英文字母、数字和下划线")
    with helpers.services().db.read() as db:
        draft = db.get(ProcedureDraft, draft_id)
        if draft is None:
            raise NotFound("草稿不存在")
        if draft.published_version_id is not None:
            raise Conflict("该草稿已经发布，不能再修改；请从已发布的版本新建草稿")
        db.expunge(draft)
    schema_path, ui_path = form_paths(name)
    return draft, draft.files.get(schema_path), draft.files.get(ui_path)


@bp.route("/procedures/drafts/<int:draft_id>/forms/<name>")
@login_required
def edit(draft_id: int, name: str) -> Any:
    draft, schema_text, ui_text = _form_files(draft_id, name)
    design = design_from_files(schema_text, ui_text)
    return render_template("formeditor.html", draft=draft, name=name, design=design, types=FIELD_TYPES,
                           labels={key: t(key) for key in JS_LABELS},
                           is_new=schema_text is None, paths=form_paths(name))


@bp.route("/procedures/drafts/<int:draft_id>/forms/<name>/preview", methods=["POST"])
@login_required
def preview(draft_id: int, name: str) -> Any:
    """The form as the clerk will see it, and the files to save; sample input (if sent) is checked as on submit."""
    _form_files(draft_id, name)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return {"error": "请求内容应为 JSON 对象"}, 400
    try:
        schema, ui = files_from_design(body.get("design"))
    except FormDesignRefused as exc:
        return {"error": exc.message, "fields": exc.fields}, 422
    # What was typed into the preview stays there; it is checked only when asked, as submitting the task would.
    sample = body.get("sample")
    raw = {str(k): v for k, v in sample.items() if isinstance(v, str)} if isinstance(sample, dict) else None
    errors: dict[str, list[str]] = {}
    checked = body.get("check") is True
    messages: list[str] = []
    if checked:
        _, messages = check_form(schema, raw or {}, errors)
    html = render_template("_formeditor_preview.html", schema=schema,
                           form_html=formrender.render(schema, ui, raw=raw, errors=errors))
    return {"html": html, "files": file_texts(name, schema, ui),
            "sample_errors": len(messages) if checked else None}
