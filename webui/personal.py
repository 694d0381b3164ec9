"""Personal data on the case pages: what a viewer sees masked, and the 查看完整 form that reveals one value, logged."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from flask import Blueprint, flash, g, request
from sqlalchemy.orm import Session

from engine.audit import privacy
from engine.idcard import mask_id_number
from engine.models import Case, ProcedureVersion

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("personal", __name__)


@dataclass
class Viewer:
    """How one user sees one case's personal data: in clear when they handle it, else masked but what they revealed."""

    clear: bool
    revealed: dict[str, Any] = field(default_factory=dict)

    def masked(self, name: str) -> bool:
        return not self.clear and name not in self.revealed

    def data(self, data: Any, schema: dict[str, Any] | None = None) -> Any:
        return data if self.clear else privacy.mask_data(data, schema)

    def application(self, data: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The application as this viewer sees it, and, by field title, the reveal name of each masked number."""
        if self.clear or not data:
            return data, {}
        shown = privacy.mask_data(data, schema)
        props = schema.get("properties") or {}
        buttons: dict[str, str] = {}
        for key, value in data.items():
            prop = props.get(key) if isinstance(props.get(key), dict) else None
            if not isinstance(value, str) or shown.get(key) == value or not privacy.kind_of(key, value, prop):
                continue
            name = privacy.APPLICATION_PREFIX + key
            if name in self.revealed:
                shown[key] = value
            else:
                buttons[str((prop or {}).get("title", key))] = name
        return shown, buttons

    def applicant(self, case: Any, name: str) -> str:
        """The applicant's ID number or phone as this viewer may see it."""
        value = str(getattr(case, name) or "")
        if not self.masked(name):
            return value
        return mask_id_number(value) if privacy.APPLICANT_FIELDS[name] == privacy.ID_NUMBER \
            else privacy.mask_phone(value)

    def event(self, event: Any, fields: dict[str, Any], step_form: dict[str, Any] | None) -> Any:
        """A stand-in for `event` whose before/after are masked, for `history.changes`."""
        if self.clear:
            return event
        schema = {"properties": {**fields, **((step_form or {}).get("properties") or {})}}
        return SimpleNamespace(kind=event.kind, before=self.data(event.before, schema),
                               after=self.data(event.after, schema))


def viewer(db: Session, case: Case, revealed: dict[str, Any] | None = None) -> Viewer:
    return Viewer(privacy.handles(db, g.user, case.id), revealed or {})


@bp.route("/cases/<int:case_id>/reveal", methods=["POST"])
@login_required
def reveal(case_id: int) -> Any:
    """Reveal one value and show the page it was asked from with that value in clear (for this page only)."""
    from . import cases  # the case pages import this module for `Viewer`

    name = request.form.get("field", "")
    with helpers.services().db.write() as db:
        shown = privacy.reveal(db, g.user, case_id, name, request.form.get("reason", ""),
                               request.form.get("note", ""), request.remote_addr)
    label = t(f"reveal_field_{name}") if name in privacy.APPLICANT_FIELDS else _title(case_id, name)
    flash(t("reveal_shown", reason=request.form.get("reason", "").strip(), field=label), "success")
    back = request.form.get("back", "")
    if back.startswith("task:"):
        return cases.render_task(back[len("task:"):], revealed={name: shown.value})
    return cases.render_case(case_id, revealed={name: shown.value})


def _title(case_id: int, name: str) -> str:
    """An application field's title (申请表“配偶身份证号码”) for the message that says what was shown."""
    key = name.removeprefix(privacy.APPLICATION_PREFIX).split(".")[0]
    with helpers.services().db.read() as db:
        case = db.get(Case, case_id)
        version = db.get(ProcedureVersion, case.version_id) if case else None
        forms = version.forms if version else {}
        schema = forms.get((version.guide if version else {}).get("application_form") or "", {})
    prop = (schema.get("properties") or {}).get(key)
    return t("reveal_field_application", title=prop.get("title", key) if isinstance(prop, dict) else key)
