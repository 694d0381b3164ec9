"""The card tick (电子监察): due deadlines claimed from the database, each card raised once, its people told."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, text, tuple_
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..cases.context import Runtime
from ..cases.locking import FRESH
from ..db import insert_or_skip, queue_update
from ..models import DEADLINE_CHECK_ROWS, Card, Case, Deadline, OrgUnit, ServiceItem, Task, User
from ..notifications import Message, notify_all
from ..outbox.notices import Outgoing
from ..people import access
from ..vocabulary import CardColor, EventKind, TaskStatus
from . import clocks

log = logging.getLogger("bianmin.cards")

# Deadlines claimed per transaction: big enough that a thousand due rows cost a handful of round trips,
# small enough that a completion waiting on one of them waits only for a short transaction.
BATCH = 250
RANK = {"": 0, CardColor.YELLOW: 1, CardColor.RED: 2}
SUPERVISOR_ROLE = "supervisor"
# Who leads the level of a step, told of its red card: the town leader for village and town steps; a county
# step's leader is the county's leader post if an administrator has created that role (the demo has none).
LEADERS = {"village": ("town_leader", "town_id"), "town": ("town_leader", "town_id"),
           "county": ("county_leader", "county_id")}
CASE_CLOCK_STEP = "办件整体"
CARD_NAMES = {CardColor.YELLOW: "黄牌", CardColor.RED: "红牌"}
CARDS, DEADLINES = Card.__table__, Deadline.__table__
# Due deadlines, soonest first, each locked unless another transaction holds it. The condition is the partial
# index's own (ix_deadline_due_check), so the claim reads that index and touches only what is due.
CLAIM = (select(Deadline).where(text(DEADLINE_CHECK_ROWS), Deadline.next_check_at <= bindparam("now"))
         .order_by(Deadline.next_check_at).limit(bindparam("batch")).with_for_update(skip_locked=True))


@dataclass(frozen=True)
class Holder:
    id: int
    role_code: str
    org_id: int
    away: bool
    # Whom an administrator named to work the post while this holder is away (代岗), if anyone.
    substitute_id: int | None = None


def tick(rt: Runtime, batch: int = BATCH) -> int:
    """Look at every deadline whose moment has come, batch by batch; returns the cards raised.

    Safe in several processes at once: each batch is claimed with FOR UPDATE SKIP LOCKED, so schedulers
    share the due rows instead of queueing, and the unique keys of cards and notifications stop any double.
    """
    raised = 0
    while True:
        claimed, count = _batch(rt, batch)
        raised += count
        # Fewer than a batch: nothing due is left, or what is left is held by another scheduler or a clerk.
        if claimed < batch:
            return raised


def _batch(rt: Runtime, batch: int) -> tuple[int, int]:
    """One transaction: claim up to `batch` due deadlines and their cases, raise or lower, schedule the next look.

    Locks are taken deadline first, then case, both with SKIP LOCKED: the tick never waits for a lock, so it
    cannot close a deadlock with a completion (which locks the case, then its deadlines) however they interleave.
    A deadline whose case is busy is left due, and the next tick takes it. On SQLite the write transaction
    itself is the one writer, and the locking clauses are not sent.
    """
    now = clock.now()
    today = now.astimezone(clock.SHANGHAI).date()
    with rt.db.write() as session:
        claimed = list(session.scalars(CLAIM, {"now": now, "batch": batch}, execution_options=FRESH))
        if not claimed:
            return 0, 0
        cases = {case.id: case for case in session.scalars(
            select(Case).where(Case.id.in_({d.case_id for d in claimed})).order_by(Case.id)
            .with_for_update(skip_locked=True), execution_options=FRESH)}
        work_calendar = rt.reference.calendar(session)
        to_raise: list[tuple[Deadline, str]] = []
        for deadline in claimed:
            case = cases.get(deadline.case_id)
            if case is None:
                continue
            card = clocks.card_on(deadline, today)
            if RANK[card] > RANK[deadline.card]:
                # Down through the whole yellow period and past the due date: yellow and red, each once.
                to_raise += [(deadline, color) for color in (CardColor.YELLOW, CardColor.RED)
                             if RANK[deadline.card] < RANK[color] <= RANK[card]]
            # Lower (a pause or an extension moved the date later): no card, the deadline just shows less.
            deadline.card = card
            guide = rt.versions.get(session, case.version_id).guide
            clocks.schedule(deadline, work_calendar, clocks.warning_days(deadline.limit_days, guide), now)
            # Written with the batch's other rows in one statement at commit, not one ORM UPDATE per row.
            session.expunge(deadline)
            queue_update(session, DEADLINES, deadline.id, card=deadline.card, yellow_from=deadline.yellow_from,
                         next_check_at=deadline.next_check_at)
        cards = _insert_cards(session, to_raise, now)
        if cards:
            _tell(session, cases, cards, now)
        return len(claimed), len(cards)


def _insert_cards(session: Session, to_raise: list[tuple[Deadline, str]], now: datetime) -> list[tuple[Deadline, Card]]:
    """The new Card rows; one that exists already (same deadline, colour and due date) is skipped, not doubled."""
    if not to_raise:
        return []
    rows = [{"deadline_id": d.id, "case_id": d.case_id, "color": color, "due_date": d.due_date, "raised_at": now}
            for d, color in to_raise]
    statement = insert_or_skip(session, CARDS, ["deadline_id", "color", "due_date"]).returning(
        CARDS.c.id, CARDS.c.deadline_id, CARDS.c.color)
    # One multi-row INSERT … RETURNING: the rows skipped as existing come back as nothing.
    made = {(row.deadline_id, row.color): row.id for row in session.connection().execute(statement, rows)}
    result = []
    for deadline, color in to_raise:
        card_id = made.get((deadline.id, color))
        if card_id is not None:
            result.append((deadline, Card(id=card_id, deadline_id=deadline.id, case_id=deadline.case_id, color=color,
                                          due_date=deadline.due_date, raised_at=now)))
    return result


def _tell(session: Session, cases: dict[int, Case], cards: list[tuple[Deadline, Card]], now: datetime) -> None:
    """Notify each card's people and write CARD_RAISED on its case's history, a batch's worth of reads at once."""
    step_tasks = {d.task_id for d, _ in cards if d.task_id}
    clock_cases = {d.case_id for d, _ in cards if d.task_id is None}
    tasks = session.execute(select(Task.id, Task.case_id, Task.name, Task.role_code, Task.org_id, Task.assignee_id)
                            .where(or_(Task.id.in_(step_tasks),
                                       Task.case_id.in_(clock_cases) & (Task.status == TaskStatus.OPEN)))).all()
    by_id = {task.id: task for task in tasks}
    open_by_case: dict[int, list[Any]] = defaultdict(list)
    for task in tasks:
        if task.case_id in clock_cases:
            open_by_case[task.case_id].append(task)
    levels = dict(session.execute(select(OrgUnit.id, OrgUnit.level).where(
        OrgUnit.id.in_({task.org_id for task in tasks}))).all())
    leader_posts = {_leader_post(cases[d.case_id], levels.get(by_id[d.task_id].org_id))
                    for d, card in cards if card.color == CardColor.RED and d.task_id in by_id}
    posts = {(task.role_code, task.org_id) for task in tasks} | leader_posts
    holders = _holders(session, posts)
    supervisors = _supervisors(session, cases.values())
    items = dict(session.execute(select(ServiceItem.code, ServiceItem.name).where(
        ServiceItem.code.in_({case.item_code for case in cases.values()}))).all())
    messages = []
    for deadline, card in cards:
        case = cases[deadline.case_id]
        task = by_id.get(deadline.task_id) if deadline.task_id else None
        handled = [task] if task else open_by_case.get(case.id, [])
        people = {user for t in handled for user in _working(t, holders)}
        people |= {s.id for s in supervisors if access.may_see_case(s, case)}
        if task and card.color == CardColor.RED:
            people |= {h.id for h in holders.get(_leader_post(case, levels.get(task.org_id)), [])}
        step = deadline.name if deadline.task_id else CASE_CLOCK_STEP
        title, body = _words(case, items.get(case.item_code, case.item_code), step, deadline, card.color)
        outgoing = Outgoing(f"card_{card.color}", {"case_number": case.case_number, "step": step[:100],
                                                   "item": items.get(case.item_code, case.item_code)[:100],
                                                   "due_at": _day(deadline.due_date)})
        messages.append(Message(frozenset(people), f"card:{card.id}", "card", title, body, case.id, card.id,
                                outgoing))
        chain.append(session, case, EventKind.CARD_RAISED, None, now, task_id=deadline.task_id, step=step,
                     after={"card": card.color, "due_date": deadline.due_date.isoformat(),
                            "provisional": deadline.provisional, "notified": len(people)})
    notify_all(session, messages, now)


def _leader_post(case: Case, level: str | None) -> tuple[str, int]:
    role, column = LEADERS.get(level or "", LEADERS["town"])
    return role, getattr(case, column)


def _holders(session: Session, posts: Iterable[tuple[str, int]]) -> dict[tuple[str, int], list[Holder]]:
    """The active A and B holders of each post, in one query."""
    found: dict[tuple[str, int], list[Holder]] = defaultdict(list)
    if not posts:
        return found
    for row in session.execute(select(User.id, User.role_code, User.org_id, User.away, User.substitute_id).where(
            User.active.is_(True), tuple_(User.role_code, User.org_id).in_(list(posts)))):
        found[(row.role_code, row.org_id)].append(Holder(row.id, row.role_code, row.org_id, row.away,
                                                         row.substitute_id if row.away else None))
    return found


def _working(task: Any, holders: dict[tuple[str, int], list[Holder]]) -> set[int]:
    """Who works the task: its holder (and, while they are away, those who cover: the post's others present and
    any substitute named for an away holder, 代岗), else the whole post with those substitutes."""
    post = holders.get((task.role_code, task.org_id), [])
    standing_in = {h.substitute_id for h in post if h.substitute_id is not None}
    if task.assignee_id is None:
        return {h.id for h in post} | standing_in
    assignee = next((h for h in post if h.id == task.assignee_id), None)
    if assignee is not None and not assignee.away:
        return {task.assignee_id}
    return {task.assignee_id} | {h.id for h in post if not h.away} | standing_in


@dataclass(frozen=True)
class _Supervisor:
    id: int
    org_id: int
    org_level: str


def _supervisors(session: Session, cases: Iterable[Case]) -> list[_Supervisor]:
    """Active supervisors sitting at one of the cases' units; which case each may see is access's rule."""
    units = {unit for case in cases for unit in (case.village_id, case.town_id, case.county_id)}
    return [_Supervisor(row.id, row.org_id, row.level) for row in session.execute(
        select(User.id, User.org_id, OrgUnit.level).join(OrgUnit, OrgUnit.id == User.org_id).where(
            User.role_code == SUPERVISOR_ROLE, User.active.is_(True), User.org_id.in_(units)))]


def _words(case: Case, item_name: str, step: str, deadline: Deadline, color: str) -> tuple[str, str]:
    due = _day(deadline.due_date) + ("（预计）" if deadline.provisional else "")
    where = f"办件 {case.case_number}（{item_name}，申请人{case.applicant_name}）"
    if color == CardColor.RED:
        return (f"红牌：{case.case_number}「{step}」已超期",
                f"{where}的「{step}」应于 {due} 前办结，现已超期，请立即办理。")
    return (f"黄牌：{case.case_number}「{step}」即将到期",
            f"{where}的「{step}」应于 {due} 前办结，已进入预警期，请抓紧办理。")


def _day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"

