"""CaseService: the one door the web UI, the API, the CLI and the scheduler use to change cases; each call delegates."""

from __future__ import annotations

from typing import Any

from ..deadlines import promised
from ..models import Case, CaseCopy, Chase
from ..outbox import repair as outbox_repair
from ..people.jurisdiction import Post
from ..tasks import addsign, chase, claim, complete, copy, delegate, sendback, transfer, withdraw
from . import deemed, immediate, intake, repair, timers
from . import window as window_
from .context import Runtime
from .locking import TaskRecord
from .outcomes import Window
from .reconcile import Step


class CaseService(Runtime):
    """Every method is one locked transaction on one case (see engine.cases.locking)."""

    def start_case(self, actor_id: int, item_code: str, village_code: str, applicant: Any, data: Any,
                   window: Window | None = None) -> Step:
        return intake.start_case(self, actor_id, item_code, village_code, applicant, data, window)

    def handle_immediate(self, actor_id: int, item_code: str, village_code: str, applicant: Any, data: Any,
                         window: Window, decision: Any) -> Step:
        return immediate.handle(self, actor_id, item_code, village_code, applicant, data, window, decision)

    def examine(self, actor_id: int, case_id: int, window: Window) -> Step:
        return window_.examine(self, actor_id, case_id, window)

    def run_section32(self) -> int:
        return deemed.tick(self)

    def claim(self, actor_id: int, task_id: str) -> TaskRecord:
        return claim.claim(self, actor_id, task_id)

    def release(self, actor_id: int, task_id: str) -> TaskRecord:
        return claim.release(self, actor_id, task_id)

    def complete(self, actor_id: int, task_id: str, data: Any) -> Step:
        return complete.complete(self, actor_id, task_id, data)

    def send_back_targets(self, actor_id: int, task_id: str) -> list[sendback.EarlierStep]:
        return sendback.targets(self, actor_id, task_id)

    def send_back(self, actor_id: int, task_id: str, target_id: str, reason: str) -> Step:
        return sendback.send_back(self, actor_id, task_id, target_id, reason)

    def withdraw(self, actor_id: int, task_id: str, reason: str) -> Step:
        return withdraw.withdraw(self, actor_id, task_id, reason)

    # 转办 and 委派

    def task_receivers(self, actor_id: int, task_id: str) -> transfer.Receivers:
        return transfer.receivers(self, actor_id, task_id)

    def transfer(self, actor_id: int, task_id: str, role_code: Any, org_id: Any, reason: Any) -> Post:
        return transfer.transfer(self, actor_id, task_id, role_code, org_id, reason)

    def delegate(self, actor_id: int, task_id: str, colleague_id: Any, reason: Any) -> delegate.Colleague:
        return delegate.delegate(self, actor_id, task_id, colleague_id, reason)

    def recall_delegation(self, actor_id: int, task_id: str) -> TaskRecord:
        return delegate.recall(self, actor_id, task_id)

    # 会签/或签 and 加签

    def add_signer(self, actor_id: int, task_id: str, role_code: str, org_id: int, position: str,
                   reason: str) -> addsign.Added:
        return addsign.add_signer(self, actor_id, task_id, role_code, org_id, position, reason)

    # 抄送 and 催办

    def copy_case(self, actor_id: int, task_id: str, posts: list[copy.Post], note: str = "") -> list[CaseCopy]:
        return copy.copy_case(self, actor_id, task_id, posts, note)

    def chase(self, actor_id: int, task_id: str, note: str = "") -> Chase:
        return chase.chase(self, actor_id, task_id, note)

    def fire_timers(self, case_id: int) -> int:
        return timers.fire_timers(self, case_id)

    def run_due_timers(self) -> int:
        return timers.run_due_timers(self, self.retry)

    def retry_step(self, actor_id: int, case_id: int) -> Step:
        return repair.retry(self, actor_id, case_id)

    def retry_call(self, actor_id: int, case_id: int) -> Any:
        return outbox_repair.retry(self, actor_id, case_id)

    def skip_call(self, actor_id: int, case_id: int, reason: str) -> Step | None:
        return outbox_repair.skip(self, actor_id, case_id, reason)

    def migrate(self, actor_id: int, case_id: int, version_id: int, mapping: dict[str, str] | None = None) -> Case:
        return repair.migrate(self, actor_id, case_id, version_id, mapping)

    def cancel(self, actor_id: int, case_id: int, reason: str) -> Case:
        return repair.cancel(self, actor_id, case_id, reason)

    def recount_provisional(self, limit: int) -> int:
        return promised.recount_provisional(self, limit)
