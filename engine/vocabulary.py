"""The words a case is told in: statuses, results and history event kinds, stored as their string values."""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    # Ended by an administrator with a reason (a case a broken diagram left stuck that cannot be repaired).
    CANCELLED = "cancelled"
    # 补正: registered with a one-time notice of the missing materials; no workflow and no clock until complete.
    SUPPLEMENT = "supplement"
    # 收件待审: materials taken in but not yet examined; 行政许可法 §32 deems it accepted after 5 working days.
    RECEIVED = "received"
    # 不予受理: refused at the window with reasons; ended without a workflow.
    NOT_ACCEPTED = "not_accepted"


# Waiting at the window: registered, numbered, but the workflow has not started.
AT_WINDOW = (CaseStatus.SUPPLEMENT, CaseStatus.RECEIVED)
# Never started a workflow: waiting at the window, or refused there.
WITHOUT_WORKFLOW = (*AT_WINDOW, CaseStatus.NOT_ACCEPTED)
# Ended: no duplicate check counts them and nothing runs on them.
ENDED = (CaseStatus.COMPLETED, CaseStatus.CANCELLED, CaseStatus.NOT_ACCEPTED)


class TaskStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    # Out of every inbox while others act on it: its 会签 signers, a signer added before its holder (加签),
    # or the signer added after its holder, who has answered.
    HELD = "held"
    # 后加签: a signer added after the holder, whose row opens once the holder has answered.
    PENDING = "pending"


class Arrival(StrEnum):
    """How an open task reached its holder other than by the case moving on; the inbox and task page say why."""

    SENT_BACK = "sent_back"  # 退回 from a later step, with the reason
    WITHDRAWN = "withdrawn"  # 撤回 by the one who completed it
    TRANSFERRED = "transferred"  # 转办 from another post, for good
    DELEGATED = "delegated"  # 委派 to a colleague, who answers back
    DELEGATE_ANSWERED = "delegate_answered"  # the colleague's answer, back with the delegator for sign-off
    SIGN_OFF = "sign_off"  # one signer's share of a 会签/或签 step
    ADDED_SIGNER = "added_signer"  # 加签 by the holder, before or after themselves
    SIGNED_BEFORE = "signed_before"  # back with the holder after the signer added before them answered


class TaskOperation(StrEnum):
    """The task operations beyond 认领/办理, each decided by `engine.people.access.may_operate`."""

    SEND_BACK = "send_back"  # 退回
    WITHDRAW = "withdraw"  # 撤回
    TRANSFER = "transfer"  # 转办
    DELEGATE = "delegate"  # 委派
    ADD_SIGNER = "add_signer"  # 加签
    COPY = "copy"  # 抄送
    CHASE = "chase"  # 催办


class TimerStatus(StrEnum):
    WAITING = "waiting"
    FIRED = "fired"
    # A boundary timer whose task was done before it fell due.
    CANCELLED = "cancelled"


class DeadlineStatus(StrEnum):
    OPEN = "open"
    # Finished: the step or case was done (late or not); cancelled: its task went away unfinished.
    FINISHED = "finished"
    CANCELLED = "cancelled"


class CardColor(StrEnum):
    YELLOW = "yellow"
    RED = "red"


class ExtensionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class IncidentKind(StrEnum):
    """Which run-time path of a case failed."""

    TIMER = "timer"
    # A clerk's completion whose following path failed: the input is kept for the retry.
    STEP = "step"
    # A service task's call that failed its last retry (or could not be retried): retried or skipped by hand.
    SERVICE = "service"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    # Given up after the last retry, or an answer that no retry can change: an incident says so.
    FAILED = "failed"
    SKIPPED = "skipped"


class CaseResult(StrEnum):
    """What an end event's `caseResult` property says; a procedure may use codes of its own."""

    APPROVED = "approved"
    REJECTED = "rejected"
    COMPLETED = "completed"


class EventKind(StrEnum):
    CASE_STARTED = "case_started"
    TASK_CREATED = "task_created"
    TASK_CLAIMED = "task_claimed"
    # 释放: the holder gives a claimed task back to the post (never 退回, which sends a case back a step).
    TASK_RELEASED = "task_released"
    TASK_COMPLETED = "task_completed"
    TASK_CANCELLED = "task_cancelled"
    TIMER_STARTED = "timer_started"
    TIMER_FIRED = "timer_fired"
    CASE_COMPLETED = "case_completed"
    # Stored under its first name: history rows are hashed, so chains written with it must still verify.
    PROMISED_DATE_SET = "due_date_set"
    VARIABLES_SET = "variables_set"
    # 受理 at the acceptance step: the case clock starts and the promised date is counted from here.
    CLOCK_STARTED = "clock_started"
    CLOCK_PAUSED = "clock_paused"
    CLOCK_RESUMED = "clock_resumed"
    # A promised or step due date moved: recomputed on an entered calendar, after a pause, or extended.
    DUE_DATE_CHANGED = "due_date_changed"
    EXTENSION_REQUESTED = "extension_requested"
    EXTENSION_DECIDED = "extension_decided"
    CARD_RAISED = "card_raised"
    # Repair by an administrator: the case moved to a newer version of its procedure, or ended without a result.
    CASE_MIGRATED = "case_migrated"
    CASE_CANCELLED = "case_cancelled"
    # A step that failed at run time: the submitted input is kept with the incident; retried later.
    STEP_FAILED = "step_failed"
    STEP_RETRIED = "step_retried"
    # 全程代办 (委托 → 传递 → 回交 → 签收): the village agent's steps for a case carried to the town or county.
    PROXY_ENTRUSTED = "proxy_entrusted"
    PROXY_HANDED_OVER = "proxy_handed_over"
    PROXY_RETURNED = "proxy_returned"
    PROXY_RECEIVED = "proxy_received"
    # A written document (receipt, notice, decision) was issued; the event pins its number and facts' digest.
    DOCUMENT_ISSUED = "document_issued"
    # A scan of a material was uploaded; its SHA-256 in the event ties the history to the stored bytes.
    ATTACHMENT_ADDED = "attachment_added"
    # 好差评 and 投诉: what the applicant said of the service, and the supervisors' answer to a follow-up.
    CASE_RATED = "case_rated"
    COMPLAINT_FILED = "complaint_filed"
    FOLLOW_UP_ANSWERED = "follow_up_answered"
    # 一次性告知: the window named every missing material; the case waits in 补正 with the clock not started.
    SUPPLEMENT_REQUESTED = "supplement_requested"
    # 受理 of a case registered earlier (补正 completed, or 收件待审 examined): the workflow starts here.
    CASE_ACCEPTED = "case_accepted"
    # 行政许可法 §32: no notice within 5 working days of receipt, so accepted as from the day of receipt.
    CASE_DEEMED_ACCEPTED = "case_deemed_accepted"
    # 不予受理 with reasons; the case ends and enters the refusal register.
    INTAKE_REFUSED = "intake_refused"
    # Task operations (engine/tasks/*): each names the task it acted on and the reason given.
    TASK_SENT_BACK = "task_sent_back"
    TASK_WITHDRAWN = "task_withdrawn"
    TASK_TRANSFERRED = "task_transferred"
    TASK_DELEGATED = "task_delegated"
    DELEGATE_ANSWERED = "delegate_answered"
    SIGNER_ADDED = "signer_added"
    TASK_SIGNED = "task_signed"
    CASE_COPIED = "case_copied"
    TASK_CHASED = "task_chased"
    # The outbox (engine/outbox): a service task's call queued, sent with its result, failed (retried or given up),
    # or skipped by an administrator with the reason.
    SERVICE_CALL_QUEUED = "service_call_queued"
    # A message to the applicant left unsent: they had reached the day's cap (BIANMIN_NOTIFY_DAILY_CAP).
    MESSAGE_CAPPED = "message_capped"
    SERVICE_CALL_SENT = "service_call_sent"
    SERVICE_CALL_FAILED = "service_call_failed"
    SERVICE_CALL_SKIPPED = "service_call_skipped"


class ProxyStepKind(StrEnum):
    """The steps of 全程代办 in the order they must come."""

    ENTRUSTED = "entrusted"
    HANDED_OVER = "handed_over"
    RETURNED = "returned"
    RECEIVED = "received"


class EnquiryStatus(StrEnum):
    OPEN = "open"
    # 转办: waiting for a holder of the receiving post to take it.
    TRANSFERRED = "transferred"
    ANSWERED = "answered"


class RatingLevel(StrEnum):
    """好差评's five levels (国办发〔2019〕51号), best first; the last two are 差评."""

    VERY_SATISFIED = "非常满意"
    SATISFIED = "满意"
    FAIRLY_SATISFIED = "基本满意"
    DISSATISFIED = "不满意"
    VERY_DISSATISFIED = "非常不满意"


class Channel(StrEnum):
    """Where the applicant rated or complained: at the window (a clerk records it) or on the public query page."""

    WINDOW = "window"
    PUBLIC = "public"


class FollowUpStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"


class SystemEventKind(StrEnum):
    """What the system chain records."""

    PROCEDURE_PUBLISHED = "procedure_published"
    CASE_MIGRATED = "case_migrated"
    CASE_CANCELLED = "case_cancelled"
    ORG_ADDED = "org_added"
    ORG_CHANGED = "org_changed"
    ROLE_ADDED = "role_added"
    ROLE_CHANGED = "role_changed"
    USER_ADDED = "user_added"
    USER_CHANGED = "user_changed"
    USER_DEACTIVATED = "user_deactivated"
    USER_REACTIVATED = "user_reactivated"
    PASSWORD_RESET = "password_reset"
    POST_AWAY = "post_away"
    POST_BACK = "post_back"
    TOKEN_CREATED = "token_created"
    TOKEN_REVOKED = "token_revoked"
    PROCEDURE_DEPLOYED = "procedure_deployed"
    CALENDAR_LOADED = "calendar_loaded"
    PRIVILEGED_LOGIN = "privileged_login"
    PRIVILEGED_LOGIN_FAILED = "privileged_login_failed"
    MIGRATION_APPLIED = "migration_applied"
    DATA_REVEALED = "data_revealed"
    SECRET_SET = "secret_set"
    POPULATION_LOOKED_UP = "population_looked_up"


class AppointmentKind(StrEnum):
    """预约服务 at a town's service window, or 上门服务 (a home visit) in a village."""

    WINDOW = "window"
    HOME = "home"


class AppointmentSlot(StrEnum):
    """The seeds give office hours only as 机关作息时间, so a booking names a half day, not an hour."""

    MORNING = "morning"
    AFTERNOON = "afternoon"


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
class DocumentKind(StrEnum):
    """The written documents of a case (行政许可法 §32, §38: acceptance, refusal and decisions are in writing)."""

    RECEIPT = "receipt"
    SUPPLEMENT_NOTICE = "supplement_notice"
    INTAKE_REFUSAL = "intake_refusal"
    APPROVAL_DECISION = "approval_decision"
    REFUSAL_DECISION = "refusal_decision"
