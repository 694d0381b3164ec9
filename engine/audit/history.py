"""What a case's history says: the application, each completed step's form, and what each event changed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..vocabulary import EventKind, TaskStatus

SUBMITTING = (EventKind.CASE_STARTED, EventKind.TASK_COMPLETED)


@dataclass(frozen=True)
class Submission:
    """What one completed step submitted, as its event recorded it."""

    task_id: str | None
    step: str | None
    at: datetime
    actor_name: str
    data: dict[str, Any]


def submissions(events: Iterable[Any]) -> tuple[dict[str, Any], list[Submission]]:
    """The application form and each completed step's form, read from a case's events in order."""
    application: dict[str, Any] = {}
    steps = []
    for event in events:
        if event.kind == EventKind.CASE_STARTED:
            application = (event.after or {}).get("data") or {}
        elif event.kind == EventKind.TASK_COMPLETED:
            steps.append(Submission(event.task_id, event.step, event.at, event.actor_name, event.after or {}))
    return application, steps


def form_fields(forms: Mapping[str, Any], application_form: str | None) -> dict[str, Any]:
    """Every form field of a procedure by name, the application form's first: what names a value a script set."""
    fields: dict[str, Any] = {}
    for name in sorted(forms, key=lambda form: form != application_form):
        for key, prop in (forms[name].get("properties") or {}).items():
            if isinstance(prop, dict):
                fields.setdefault(key, prop)
    return fields


@dataclass(frozen=True)
class Change:
    """One value an event recorded, as the history shows it.

    `is_data` marks form data and computed values (named by `field`, their form field's schema, when
    there is one) apart from the event's own bookkeeping (assignee, promised date, post …).
    """

    key: str
    before: Any
    after: Any
    is_data: bool
    field: dict[str, Any] | None = None


_STARTED_SHOWN = ("applicant", "version", "promised_date", "promised_provisional", "due_date")


def changes(event: Any, step_form: Mapping[str, Any] | None, fields: Mapping[str, Any],
            org_names: Mapping[int, str]) -> list[Change]:
    """What one event changed: `step_form` is the schema of the event's task's form, `fields` every form field."""
    before, after = event.before or {}, event.after or {}
    if event.kind == EventKind.CASE_STARTED:
        # The application itself is shown whole beside the history; its event keeps only the headline.
        after, before = {key: after[key] for key in _STARTED_SHOWN if after.get(key) is not None}, {}
    elif event.kind == EventKind.TASK_CREATED:
        role = after.get("role_name") or after.get("role") or ""
        post = f"{org_names.get(after.get('org_id'), '')} {role}".strip()
        # 会签/加签: a signer's share is named as such, and a sign-off step's own row says its posts sign it.
        shown = {"signer_post": post} if after.get("signing_for") else {"post": post}
        after, before = shown | ({"held": True} if after.get("status") == TaskStatus.HELD else {}), {}
    elif event.kind == EventKind.TASK_TRANSFERRED:
        # The posts by name; the new post's codes are there for the replay.
        after = {key: value for key, value in after.items() if key not in ("role", "org_id")}
    elif event.kind == EventKind.DUE_DATE_CHANGED:
        # A due date moved: what stayed the same (still provisional or not) is no news.
        kept = [key for key in dict.fromkeys([*before, *after]) if before.get(key) != after.get(key)]
        before, after = {key: before[key] for key in kept if key in before}, {key: after.get(key) for key in kept}
    computed = event.kind == EventKind.VARIABLES_SET
    props = fields if computed else (step_form or {}).get("properties", {})
    return [Change(key, before.get(key), after.get(key), computed or key in props, props.get(key))
            for key in dict.fromkeys([*before, *after])]
