"""The one rule for each question of access: may this actor see a case, see a task, claim it, complete it, operate
on it (退回, 撤回, 转办, 委派, 加签, 抄送, 催办), accept, see and repair the incidents, ask or decide an extension,
use the supervision desk, audit and verify histories.

The engine enforces these, and the web UI and the API ask them what to show; nobody re-derives them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sqlalchemy import ColumnElement, and_, false, or_

from ..models import Appointment, Case, OrgUnit, Role, Task
from ..vocabulary import ENDED, TaskOperation, TaskStatus


class Placed(Protocol):
    """A staff member as far as jurisdiction goes: where they sit."""

    org_id: int
    org_level: str


class Staff(Placed, Protocol):
    id: int
    role_code: str
    away: bool

    @property
    def covers(self) -> frozenset[tuple[str, int]]:
        """Posts (role, org unit) whose away holder named this user their substitute (see `needs_substitute`)."""


class CaseLike(Protocol):
    village_id: int
    town_id: int
    county_id: int


class PostTask(Protocol):
    role_code: str
    org_id: int
    status: str
    assignee_id: int | None
    # 委派: the holder who handed the task to its assignee, a colleague who answers it back to them.
    delegated_by_id: int | None

    @property
    def assignee_away(self) -> bool | None:
        """Whether the holder of a claimed task is marked away (the B post then covers)."""


def case_visible_to(user: Placed) -> ColumnElement[bool]:
    """`may_see_case` as a query condition: the cases of the user's own org unit and the units below it."""
    column = {"village": Case.village_id, "town": Case.town_id, "county": Case.county_id}.get(user.org_level)
    return column == user.org_id if column is not None else false()


def towns_visible_to(user: Placed) -> ColumnElement[bool]:
    """The towns whose cases `case_visible_to` shows the user, as a condition on org units."""
    if user.org_level == "county":
        return and_(OrgUnit.level == "town", OrgUnit.parent_id == user.org_id)
    return and_(OrgUnit.level == "town", OrgUnit.id == user.org_id) if user.org_level == "town" else false()


def may_see_case(user: Placed, case: CaseLike) -> bool:
    return user.org_id == {"village": case.village_id, "town": case.town_id,
                           "county": case.county_id}.get(user.org_level)


def holds_post(user: Staff, task: PostTask) -> bool:
    """The post's own holders, the substitute named for it while its holder is away, and for a delegated task
    (委派) the colleague it was handed to, for that one task."""
    post = (task.role_code, task.org_id)
    return post == (user.role_code, user.org_id) or post in user.covers or delegated_to(user, task)


def delegated_to(user: Staff, task: PostTask) -> bool:
    return task.delegated_by_id is not None and task.assignee_id == user.id


def needs_substitute(other_holders: int) -> bool:
    """AB岗: a post with a B holder is covered by it; one without must be handed to a named substitute."""
    return other_holders == 0


def may_see_task(user: Staff, task: PostTask, case: CaseLike) -> bool:
    """A task is seen by whoever sees its case, and always by the holders of its post."""
    return may_see_case(user, case) or holds_post(user, task)


def handles_case(user: Staff, accepted_by: int | None, step_posts: Iterable[tuple[str, int]],
                 step_people: Collection[int]) -> bool:
    """Whoever handles a case sees its ID and phone numbers in clear (个人信息保护法 §6, minimum necessary).

    The one who accepted it, anyone who claimed or completed one of its steps (even from a post they no longer
    hold), and the holders (or named substitute) of a post that has or had a step on it. Everyone else who may
    see the case (another post's clerk, supervisors, auditors, a leader with no step) sees them masked.
    """
    if user.id == accepted_by or user.id in step_people:
        return True
    mine = {(user.role_code, user.org_id), *user.covers}
    return any(post in mine for post in step_posts)


def may_attach(handles: bool, case_status: str) -> bool:
    """Scans are added by those who handle the case until it ends (at the window too: the paper a 补正 case waited
    for); everyone who may see the case reads them."""
    return handles and case_status not in ENDED


def may_record_for_applicant(user: Staff, handles: bool, case: CaseLike) -> bool:
    """好差评 and 投诉 at the window: written down by whoever handles the case, or a window of its jurisdiction."""
    return handles or (user.role_code in ACCEPTING_ROLES and may_see_case(user, case))


def may_answer_follow_up(user: Staff, case: CaseLike) -> bool:
    """整改/回访 of a 差评 or complaint: the supervisors whose jurisdiction holds the case."""
    return user.role_code == SUPERVISOR_ROLE and may_see_case(user, case)


def may_see_reveals(user: Staff) -> bool:
    """查看完整个人信息的记录: those who audit read who revealed whose data, within their jurisdiction."""
    return may_audit(user)


class Standing(StrEnum):
    """Where a user stands towards a task, most decisive first; the UI words each one."""

    COMPLETED = "completed"
    NOT_OPEN = "not_open"
    NOT_YOUR_POST = "not_your_post"
    AWAY = "away"
    DELEGATED = "delegated"  # handed to a colleague (委派), who answers it back to the one who delegated it
    CLAIMED_BY_OTHER = "claimed_by_other"
    UNCLAIMED = "unclaimed"
    COVERING = "covering"  # the B post works a task claimed by the A post, who is away
    YOURS = "yours"


@dataclass(frozen=True)
class TaskAccess:
    standing: Standing
    may_claim: bool
    may_complete: bool


def task_access(user: Staff, task: PostTask) -> TaskAccess:
    """Post holders work unclaimed tasks; a claimed task is its holder's, or the B post's while A is away; a
    delegated one only its delegate's."""
    if task.status == TaskStatus.COMPLETED:
        standing = Standing.COMPLETED
    elif task.status != TaskStatus.OPEN:
        standing = Standing.NOT_OPEN
    elif not holds_post(user, task):
        standing = Standing.NOT_YOUR_POST
    elif user.away:
        standing = Standing.AWAY
    elif task.assignee_id is None:
        standing = Standing.UNCLAIMED
    elif task.assignee_id == user.id:
        standing = Standing.YOURS
    elif task.delegated_by_id is not None:
        # Not covered by the B post while the delegate is away: the delegator takes it back instead.
        standing = Standing.DELEGATED
    elif task.assignee_away:
        standing = Standing.COVERING
    else:
        standing = Standing.CLAIMED_BY_OTHER
    works = standing in (Standing.UNCLAIMED, Standing.YOURS, Standing.COVERING)
    return TaskAccess(standing, may_claim=works and standing != Standing.YOURS, may_complete=works)


# Who accepts applications (受理): the village agent for their village, the town window for the town's villages.
ACCEPTING_ROLES = ("village_agent", "town_window")


def may_accept(user: Staff) -> bool:
    return user.role_code in ACCEPTING_ROLES



# 代办: the village agent carries the case of a villager of their own village to the town or county and back.
PROXY_ROLE = "village_agent"


def may_record_proxy(user: Staff, case: CaseLike) -> bool:
    return user.role_code == PROXY_ROLE and user.org_level == "village" and user.org_id == case.village_id


def proxy_cases_of(user: Placed) -> ColumnElement[bool]:
    """`may_record_proxy` as a query condition on cases: the agent's own village (the 待回交 list)."""
    return Case.village_id == user.org_id if user.org_level == "village" else false()


class EnquiryLike(CaseLike, Protocol):
    registered_by_id: int
    owner_id: int | None
    post_role_code: str
    post_org_id: int


def may_register_enquiry(user: Staff) -> bool:
    """首问负责: every window clerk and post holder who meets a citizen registers what they asked, not the desks."""
    return user.role_code not in DESK_ROLES


def holds_enquiry_post(user: Staff, enquiry: EnquiryLike) -> bool:
    return (enquiry.post_role_code, enquiry.post_org_id) in {(user.role_code, user.org_id), *user.covers}


def may_see_enquiry(user: Staff, enquiry: EnquiryLike) -> bool:
    """Its first receiver, its owner, the post it sits with, and whoever sees cases of the person's place."""
    return (user.id in (enquiry.registered_by_id, enquiry.owner_id) or holds_enquiry_post(user, enquiry)
            or may_see_case(user, enquiry))


def may_answer_enquiry(user: Staff, enquiry: EnquiryLike) -> bool:
    """Only the owner answers or hands it on (首问负责); after a 转办 a holder of the receiving post takes it first."""
    return enquiry.owner_id == user.id


def may_take_enquiry(user: Staff, enquiry: EnquiryLike) -> bool:
    return enquiry.owner_id is None and holds_enquiry_post(user, enquiry) and not user.away


def may_receive_enquiry(post_level: str, post_org_id: int, enquiry: CaseLike) -> bool:
    """转办 goes to a post serving the person's place: their village, its town or its county, at the role's level."""
    return may_receive_task(post_level, post_org_id, enquiry)
def appointments_visible_to(user: Placed) -> ColumnElement[bool]:
    """Bookings are seen as cases are, with their names and phones: by the staff of the place booked and of the
    units above it (a village sees the home visits in it, a town its window and its villages' visits)."""
    column = {"village": Appointment.place_id, "town": Appointment.town_id,
              "county": Appointment.county_id}.get(user.org_level)
    return column == user.org_id if column is not None else false()


def may_see_appointment(user: Placed, booking: Appointment) -> bool:
    return user.org_id == {"village": booking.place_id, "town": booking.town_id,
                           "county": booking.county_id}.get(user.org_level)


def may_serve_appointment(user: Staff, booking: Appointment) -> bool:
    """Those who accept applications book, serve and mark bookings (done, no-show, cancelled) where they see them."""
    return may_accept(user) and may_see_appointment(user, booking)


ADMIN_ROLE = "admin"


def may_manage_people(user: Staff) -> bool:
    """People and places (org tree, accounts, posts, roles, API tokens) and the system events: administrators."""
    return user.role_code == ADMIN_ROLE


def may_manage_calendar(user: Staff) -> bool:
    """The holiday calendar is the county's reference data: administrators enter each year's 放假安排."""
    return user.role_code == ADMIN_ROLE


def may_manage_secrets(user: Staff) -> bool:
    """The connectors' API keys and passwords are entered (never read back) by administrators."""
    return user.role_code == ADMIN_ROLE


def may_model(user: Staff) -> bool:
    """Drawing, importing, exporting and publishing procedures changes what every case runs: administrators only."""
    return user.role_code == ADMIN_ROLE


def may_see_incidents(user: Staff) -> bool:
    """异常办件 are the system's own failures across the county: for administrators, who repair them."""
    return user.role_code == ADMIN_ROLE


def may_repair(user: Staff) -> bool:
    """Retrying a failed step, moving a case to a newer procedure version, cancelling a case: administrators."""
    return user.role_code == ADMIN_ROLE


# 延期 (行政许可法 §42): the town leader decides for the case clock and village or town steps; a county step's
# extension is for the county department that holds the step's post.
TOWN_LEADER_ROLE = "town_leader"


class ExtensionTarget(Protocol):
    """The deadline an extension is for: its case's town, and its step's post (all None for the case clock)."""

    town_id: int
    step_role_code: str | None
    step_org_id: int | None
    step_level: str | None


def may_request_extension(user: Staff, open_posts: list[tuple[str, int]], accepted_by: tuple[str, int]) -> bool:
    """Asked by a holder of one of the case's open steps, or by the post that accepted the case (its window)."""
    return (user.role_code, user.org_id) in [*open_posts, accepted_by]


def may_decide_extension(user: Staff, target: ExtensionTarget) -> bool:
    if target.step_level == "county":
        return user.role_code == target.step_role_code and user.org_id == target.step_org_id
    return user.role_code == TOWN_LEADER_ROLE and user.org_id == target.town_id


def extensions_decidable_by(user: Staff) -> ColumnElement[bool]:
    """`may_decide_extension` as a query condition over extension ⋈ deadline ⋈ case ⟕ task ⟕ role."""
    county_step = and_(Task.role_code == user.role_code, Task.org_id == user.org_id, Role.level == "county")
    if user.role_code != TOWN_LEADER_ROLE:
        return county_step
    return or_(and_(Case.town_id == user.org_id, or_(Task.id.is_(None), Role.level != "county")), county_step)


def may_ever_decide_extensions(user: Staff, level: str) -> bool:
    """Whether the 延期审批 page is for this user at all: town leaders and the holders of county posts."""
    return user.role_code == TOWN_LEADER_ROLE or (level == "county" and user.role_code not in DESK_ROLES)


# 电子监察: supervisors watch their jurisdiction; auditors and administrators may read the same desk.
SUPERVISOR_ROLE = "supervisor"
DESK_ROLES = (SUPERVISOR_ROLE, "auditor", ADMIN_ROLE)


def may_use_desk(user: Staff) -> bool:
    return user.role_code in DESK_ROLES


def may_read_refusals(user: Staff) -> bool:
    """否定报备: the refusal register is for the supervision desk and the town leaders, each for their jurisdiction."""
    return may_use_desk(user) or user.role_code == TOWN_LEADER_ROLE


def signs_in_on_record(user: Staff) -> bool:
    """Supervisor, auditor and administrator accounts see across the county: each of their sign-ins, and each
    failed attempt at one, goes on the system chain (a clerk's stays in the login attempts only)."""
    return user.role_code in DESK_ROLES


def may_check_record(user: Staff) -> bool:
    """The daily anchors (每日存证) and the system chain's export are for those who check the record: auditors,
    supervisors, administrators."""
    return user.role_code in DESK_ROLES


# 审计: auditors search every case of their jurisdiction and verify histories; supervisors may search and verify one
# case, read-only; verifying everything (the whole county and the system chain) is the auditors' own work.
AUDITOR_ROLE = "auditor"
AUDIT_ROLES = (AUDITOR_ROLE, SUPERVISOR_ROLE)


def may_audit(user: Staff) -> bool:
    return user.role_code in AUDIT_ROLES


def may_verify_everything(user: Staff) -> bool:
    return user.role_code == AUDITOR_ROLE


def lands_on_audit_desk(user: Staff) -> bool:
    """Where signing in leads when no page was asked for: the auditor's desk is an auditor's inbox."""
    return user.role_code == AUDITOR_ROLE


class OperatedTask(PostTask, Protocol):
    completed_by_id: int | None
    signing_for: str | None


# 催办: the supervisors and the town leader of the case's jurisdiction, and the village agent of its village
# (who carries the applicant's case and answers to them for it).
CHASING_ROLES = (SUPERVISOR_ROLE, TOWN_LEADER_ROLE)
# A task still waiting: on its post or holder, or held while its signers act (会签, 加签).
CHASEABLE = (TaskStatus.OPEN, TaskStatus.HELD)


def may_chase(user: Staff, case: CaseLike) -> bool:
    """Whether the user chases the case's tasks at all; `may_operate` adds that the task must still be waiting."""
    if user.role_code == PROXY_ROLE:
        return may_record_proxy(user, case)
    return user.role_code in CHASING_ROLES and may_see_case(user, case)


def may_operate(user: Staff, operation: TaskOperation, task: OperatedTask, case: CaseLike) -> bool:
    """Who may do which task operation. A holder who may complete the task sends it back, transfers, delegates,
    adds a signer and copies; a signer's share (会签) and a delegate's task are only answered or copied. 撤回 is for
    the one who completed the step; 催办 for a chaser of the case's jurisdiction, on a task still waiting."""
    if operation == TaskOperation.WITHDRAW:
        # A signer's share (会签, 加签) is no step of the case's path: there is nothing to take back to.
        return (task.status == TaskStatus.COMPLETED and task.completed_by_id == user.id and holds_post(user, task)
                and task.signing_for is None)
    if operation == TaskOperation.CHASE:
        return task.status in CHASEABLE and may_chase(user, case)
    if not task_access(user, task).may_complete:
        return False
    if operation == TaskOperation.COPY:
        return True
    return task.signing_for is None and task.delegated_by_id is None


def may_receive_task(post_level: str, post_org_id: int, case: CaseLike) -> bool:
    """转办, 加签 and 抄送 reach only posts that serve the case's place, at their role's level."""
    return post_org_id == {"village": case.village_id, "town": case.town_id,
                           "county": case.county_id}.get(post_level)


def may_be_copied(role_code: str) -> bool:
    """抄送 tells those who handle or watch cases; administrators and auditors work on the system and the record."""
    return role_code not in (ADMIN_ROLE, AUDITOR_ROLE)


def copies_readable_by(user: Staff, covered: Collection[tuple[str, int]]) -> set[tuple[str, int]]:
    """抄送我的: the copies to the user's own post and to the posts they stand in for (代岗, `covered`) are theirs."""
    return {(user.role_code, user.org_id), *covered}


def may_see_copied_case(user: Staff, case: CaseLike, readable: Collection[tuple[str, int]],
                        copied_to: Collection[tuple[str, int]]) -> bool:
    """A copy is read on the case page, read-only. A copy only reaches posts serving the case (`may_receive_task`),
    whose holders see the case anyway; the one more reader is a substitute from elsewhere standing in for such a
    post."""
    return may_see_case(user, case) or not set(readable).isdisjoint(copied_to)
def works_tasks(role_code: str) -> bool:
    """The supervision desks watch and audit cases; they hold no task, so 转办 and 委派 never reach them."""
    return role_code not in DESK_ROLES


def may_receive_delegation(colleague: Staff, case: CaseLike) -> bool:
    """委派 goes to a colleague at work whose own post serves the case's place (their unit, at its level)."""
    return (works_tasks(colleague.role_code) and not colleague.away
            and may_receive_task(colleague.org_level, colleague.org_id, case))


def may_recall_delegation(user: Staff, task: OperatedTask) -> bool:
    """收回委派: the one who delegated an open task takes it back before the colleague has answered."""
    return task.status == TaskStatus.OPEN and task.delegated_by_id == user.id and holds_post(user, task)


def may_add_as_signer(post_role: str, post_level: str, post_org_id: int, case: CaseLike) -> bool:
    """加签 reaches a post that serves the case (`may_receive_task`) and works cases: never the supervision, audit
    or administration desks, which watch cases and do not sign them."""
    return works_tasks(post_role) and may_receive_task(post_level, post_org_id, case)
