"""UI strings in Chinese (default) and English; `?lang=en` switches and the choice is kept in the session."""

from __future__ import annotations

from typing import Any

from flask import Flask, request, session
from markupsafe import Markup

LANGUAGES = ("zh", "en")
DEFAULT = "zh"

# key: (中文, English). Engine messages are Chinese only and are shown as they come.
STRINGS: dict[str, tuple[str, str]] = {
    # chrome
    "brand": ("便民", "Bianmin"),
    "brand_sub": ("便民服务中心办件系统", "Convenience service centre cases"),
    "nav_inbox": ("待办", "Inbox"),
    "nav_cases": ("办件查询", "Cases"),
    "nav_new_case": ("受理新申请", "New application"),
    "nav_incidents": ("异常办件", "Incidents"),
    "nav_notifications": ("提醒", "Notifications"),
    "unread_title": ("{n} 条未读提醒", "{n} unread notifications"),
    # cards and notifications
    "card_yellow": ("黄牌", "Yellow card"),
    "card_red": ("红牌", "Red card"),
    "filter_all": ("全部", "All"),
    "filter_yellow": ("即将超期", "Due soon"),
    "filter_red": ("已超期", "Overdue"),
    "col_card": ("警示", "Card"),
    "sort_by_card": ("按警示排序：红牌、黄牌在前", "Sort by card: red and yellow first"),
    "all_cards": ("全部警示", "Any card"),
    "no_carded": ("没有此类办件", "Nothing here"),
    "notifications_title": ("提醒", "Notifications"),
    "notifications_intro": ("办件或环节进入预警期（黄牌）或超过办结期限（红牌）时，系统提醒办理人、岗位人员和电子监察；"
                            "环节超期同时提醒分管领导。",
                            "When a case or step nears its limit (yellow card) or passes it (red card), its handler, "
                            "post and supervisors are told; an overdue step also tells the leader."),
    "show_unread": ("只看未读", "Unread only"),
    "show_all": ("全部提醒", "All"),
    "mark_read": ("标为已读", "Mark read"),
    "mark_all_read": ("全部标为已读", "Mark all read"),
    "marked_all_read": ("已将 {n} 条提醒标为已读", "{n} notifications marked read"),
    "open_case": ("查看办件", "Open case"),
    "read_at": ("已读 {at}", "read {at}"),
    "unread": ("未读", "unread"),
    "no_notifications": ("没有提醒", "No notifications"),
    "col_received": ("时间", "Received"),
    "col_subject": ("内容", "Subject"),
    "cards_title": ("限时办结警示", "Deadline cards"),
    "case_card_now": ("办件当前", "Case now"),
    "step_card": ("环节警示", "Step card"),
    "step_due": ("环节期限", "Step due"),
    "no_cards_raised": ("未亮过黄牌或红牌", "No card raised"),
    "col_raised_at": ("亮牌时间", "Raised"),
    "col_deadline": ("期限", "Deadline"),
    "col_warned_due": ("所警示的期限日", "Due date warned of"),
    "case_clock": ("办件整体", "Whole case"),
    "logout": ("退出", "Log out"),
    "post_rank": ("{rank}岗", "post {rank}"),
    "present": ("在岗", "present"),
    "away": ("不在岗", "away"),
    "mark_away": ("标记不在岗", "Mark me away"),
    "mark_present": ("恢复在岗", "I am back"),
    "away_banner": ("您已标记为不在岗：您认领的任务由同岗位的其他人员（B岗）办理。",
                    "You are marked away: colleagues on your post (B post) handle the tasks you claimed."),
    "now_away": ("已标记为不在岗，您认领的任务由同岗位的其他人员办理",
                 "Marked away; your post colleagues handle your tasks"),
    "now_present": ("已恢复在岗", "Welcome back"),
    "lang_zh": ("中文", "中文"),
    "lang_en": ("English", "English"),
    "skip_to_content": ("跳到正文", "Skip to content"),
    # login
    "login_title": ("登录", "Log in"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "login_button": ("登录", "Log in"),
    "login_failed": ("用户名或密码错误，或账号已停用", "Wrong username or password, or the account is disabled"),
    "login_required": ("请先登录", "Please log in"),
    "logged_out": ("您已退出登录", "You have logged out"),
    "nav_password": ("修改密码", "Change password"),
    "password_title": ("修改密码", "Change password"),
    "old_password": ("原密码", "Current password"),
    "new_password": ("新密码", "New password"),
    "new_password_again": ("再次输入新密码", "New password again"),
    "new_password_help": ("至少 8 个字符，不能与用户名或原密码相同",
                          "At least 8 characters, not your username or your current password"),
    "password_submit": ("确认修改", "Change password"),
    "old_password_missing": ("请输入原密码", "Enter your current password"),
    "passwords_differ": ("两次输入的新密码不一致", "The two new passwords differ"),
    "password_changed": ("密码已修改，其他浏览器和设备上的登录均已退出",
                         "Password changed; you are logged out everywhere else"),
    "welcome": ("欢迎，{name}", "Welcome, {name}"),
    "csrf_failed": ("页面已过期，请刷新后重试", "The page has expired; reload it and try again"),
    # inbox
    "inbox_title": ("待办事项", "Inbox"),
    "tab_mine": ("我的待办", "My tasks"),
    "tab_post": ("岗位待办", "My post's tasks"),
    "tab_cover": ("代岗待办", "Tasks I stand in for"),
    "col_case_number": ("办件编号", "Case number"),
    "col_item": ("事项", "Service item"),
    "col_applicant": ("申请人", "Applicant"),
    "col_id_number": ("身份证号码", "ID number"),
    "col_village": ("村（社区）", "Village"),
    "col_step": ("环节", "Step"),
    "col_arrived": ("到达时间", "Arrived"),
    "col_due": ("承诺办结", "Due"),
    "col_actions": ("操作", "Actions"),
    "claim": ("认领", "Claim"),
    "release": ("释放", "Release"),
    "handle": ("办理", "Handle"),
    "overdue": ("已超期", "overdue"),
    "due_today": ("今日到期", "due today"),
    "provisional": ("预计", "provisional"),
    # holiday calendar
    "nav_calendar": ("节假日日历", "Holidays"),
    # people and places (administrators)
    "nav_people": ("人员与区划", "People & places"),
    "people_title": ("人员与区划", "People and places"),
    "people_places": ("区划", "Org tree"),
    "people_accounts": ("账号", "Accounts"),
    "people_posts": ("岗位", "Posts"),
    "people_roles": ("角色", "Roles"),
    "people_tokens": ("访问令牌", "API tokens"),
    "people_events": ("系统事件", "System events"),
    "people_shown_once": ("只显示这一次：请立即转交本人，离开本页后无法再次查看。",
                          "Shown only now: hand it over at once; it cannot be shown again."),
    "people_org_name": ("名称", "Name"),
    "people_division_code": ("行政区划代码", "Division code"),
    "people_level": ("层级", "Level"),
    "people_rename": ("改名", "Rename"),
    "people_new_name": ("新名称", "New name"),
    "people_add_org": ("添加乡镇或村", "Add a town or village"),
    "people_parent": ("上级单位", "Parent"),
    "people_adds": ("添加", "add a "),
    "people_code_help": ("12 位统计用区划代码：乡镇为县代码 6 位 + 乡镇 3 位 + 000；村为乡镇代码前 9 位 + 村 3 位。",
                         "12 digits: county 6 + town 3 + 000 for a town; town's first 9 + village 3 for a village."),
    "people_add": ("添加", "Add"),
    "people_org_added": ("已添加 {name}（{code}）", "Added {name} ({code})"),
    "people_renamed": ("已更名为“{name}”", "Renamed to “{name}”"),
    "people_user": ("人员", "Staff"),
    "people_post": ("岗位", "Post"),
    "people_state": ("状态", "State"),
    "people_rank": ("岗", " post"),
    "people_rank_label": ("A/B 岗", "A or B post"),
    "people_active": ("启用", "Active"),
    "people_inactive": ("已停用", "Deactivated"),
    "people_away": ("不在岗", "Away"),
    "people_reset_password": ("重设密码", "Reset password"),
    "people_deactivate": ("停用", "Deactivate"),
    "people_reactivate": ("恢复", "Reactivate"),
    "people_add_user": ("新建账号", "New account"),
    "people_username": ("用户名（登录名）", "Username"),
    "people_display_name": ("姓名", "Name"),
    "people_org": ("所在单位", "Org unit"),
    "people_role": ("角色", "Role"),
    "people_password_help": ("初始密码由系统生成，只显示一次。", "The initial password is generated and shown once."),
    "people_user_added": ("已创建账号 {name}（{username}）", "Account {name} ({username}) created"),
    "people_initial_password": ("初始密码", "Initial password"),
    "people_password_reset": ("已重设 {name}（{username}）的密码，其已登录的会话均已失效",
                              "Password of {name} ({username}) reset; their sessions have ended"),
    "people_new_password": ("新密码", "New password"),
    "people_deactivated": ("已停用 {name}，其会话和访问令牌均已失效",
                           "{name} deactivated; sessions and tokens stop"),
    "people_reactivated": ("已恢复 {name}", "{name} reactivated"),
    "people_posts_help": ("岗位即某单位的某角色。A 岗不在岗时由 B 岗办理其任务；"
                          "没有 B 岗的岗位标记不在岗时须指定代岗人员，"
                          "代岗人员在“代岗待办”中办理该岗位的任务，恢复在岗时其未办完的任务退回岗位待认领。",
                          "A post is a role at an org unit. While A is away B works A's tasks; a post without B "
                          "needs a named substitute, who works its tasks from “Tasks I stand in for” until the "
                          "holder is back."),
    "people_holders": ("在岗人员", "Holders"),
    "people_substitute": ("代岗人员", "Substitute"),
    "people_pick_substitute": ("— 指定代岗人员 —", "— name a substitute —"),
    "people_substitute_is": ("由{name}代岗", "covered by {name}"),
    "people_mark_away": ("标记{name}不在岗", "Mark {name} away"),
    "people_away_short": ("标记不在岗", "Mark away"),
    "people_back_short": ("恢复在岗", "Back at post"),
    "people_mark_back": ("{name}恢复在岗", "{name} is back"),
    "people_away_b": ("已标记{name}不在岗，其任务由 B 岗办理", "{name} is away; the B post works their tasks"),
    "people_away_substitute": ("已标记{name}不在岗，由{substitute}代岗", "{name} is away; {substitute} stands in"),
    "people_back": ("{name}已恢复在岗", "{name} is back"),
    "people_role_code": ("角色代码", "Role code"),
    "people_role_name": ("角色名称", "Role name"),
    "people_add_role": ("添加角色", "Add a role"),
    "people_role_code_help": ("小写字母、数字和下划线；流程图的泳道名称使用该代码。",
                              "Lower-case letters, digits, _; lanes name it."),
    "people_role_added": ("已添加角色 {name}（{code}）", "Role {name} ({code}) added"),
    "people_token_id": ("编号", "No."),
    "people_created": ("创建时间", "Created"),
    "people_expires": ("到期时间", "Expires"),
    "people_last_used": ("最近使用", "Last used"),
    "people_revoked": ("已撤销", "Revoked"),
    "people_expired": ("已过期", "Expired"),
    "people_valid": ("有效", "Valid"),
    "people_revoke": ("撤销", "Revoke"),
    "people_no_tokens": ("还没有访问令牌。", "No tokens yet."),
    "people_create_token": ("新建访问令牌", "Create a token"),
    "people_token_days": ("有效期（天）", "Valid for (days)"),
    "people_token_created": ("已为 {username} 新建访问令牌，有效期 {days} 天",
                             "Token for {username}, valid {days} days"),
    "people_token": ("访问令牌", "Token"),
    "people_token_revoked": ("已撤销令牌 {id}", "Token {id} revoked"),
    "people_chain_ok": ("事件链校验完好", "Chain verified"),
    "people_chain_broken": ("事件链校验不通过：记录可能被改动", "Chain broken: records may have been altered"),
    "people_seq": ("序号", "No."),
    "people_when": ("时间", "When"),
    "people_kind": ("事件", "Event"),
    "people_actor": ("操作人", "By"),
    "people_subject": ("对象", "Subject"),
    "people_change": ("变更前 / 变更后", "Before / after"),
    "people_no_events": ("没有这类事件。", "No such events."),
    "event_procedure_published": ("发布流程", "Procedure published"),
    "event_case_migrated": ("办件迁移", "Case migrated"),
    "event_case_cancelled": ("办件撤销", "Case cancelled"),
    "event_org_added": ("添加区划", "Org unit added"),
    "event_org_changed": ("区划改名", "Org unit renamed"),
    "event_role_added": ("添加角色", "Role added"),
    "event_role_changed": ("角色改名", "Role renamed"),
    "event_user_added": ("新建账号", "Account added"),
    "event_user_changed": ("账号变更", "Account changed"),
    "event_user_deactivated": ("停用账号", "Account deactivated"),
    "event_user_reactivated": ("恢复账号", "Account reactivated"),
    "event_password_reset": ("重设密码", "Password reset"),
    "event_post_away": ("标记不在岗", "Marked away"),
    "event_post_back": ("恢复在岗", "Back at post"),
    "event_token_created": ("新建令牌", "Token created"),
    "event_token_revoked": ("撤销令牌", "Token revoked"),
    "calendar_title": ("节假日日历", "Holiday calendar"),
    "calendar_intro": ("期限按工作日计算。已录入年份按国务院办公厅放假通知（含调休）；"
                       "未录入年份按《全国年节及纪念日放假办法》的法定节假日预计"
                       "（不含调休，{first}–{last} 年），计算出的日期标注“预计”，录入该年后自动重算。",
                       "Deadlines count working days. Entered years follow the State Council notice (with make-up "
                       "workdays); other years ({first}–{last}) are counted provisionally on the statutory holidays "
                       "and marked “provisional” until the year is entered, when they are recounted."),
    "calendar_entered_years": ("已录入的年份", "Entered years"),
    "calendar_year": ("年份", "Year"),
    "calendar_source": ("依据（通知文号）", "Source"),
    "calendar_holidays": ("放假日", "Days off"),
    "calendar_workdays": ("调休上班日", "Make-up workdays"),
    "days_n": ("{n} 天", "{n} days"),
    "calendar_enter_year": ("录入年度放假安排", "Enter a year"),
    "calendar_format_help": ("格式与系统自带的 holidays.toml 相同：每年一节 [年份]，"
                             "写明 source（通知文号）、holidays（放假日）"
                             "和 workdays（调休上班日），日期写成 [\"YYYY-MM-DD\", \"名称\"]。有任何错误则整份不录入。",
                             "Same format as the shipped holidays.toml: one [year] section with source, holidays and "
                             "workdays as [\"YYYY-MM-DD\", \"name\"]. Any mistake refuses the whole file."),
    "calendar_upload": ("上传文件（.toml，UTF-8）", "Upload a file (.toml, UTF-8)"),
    "calendar_paste": ("或粘贴内容", "or paste it"),
    "calendar_pasted": ("粘贴的内容", "pasted text"),
    "calendar_replace": ("重新录入已录入的年份（更正）", "Replace years already entered (a correction)"),
    "calendar_preview": ("预览", "Preview"),
    "calendar_confirm": ("确认录入并重算预计期限", "Enter and recount provisional dates"),
    "calendar_preview_of": ("{year} 年放假安排预览", "{year}: preview"),
    "calendar_missing_statutory": ("以下法定节假日未列为放假日，请核对：", "Statutory days not listed as days off:"),
    "calendar_provisional_years": ("正在按预计计算的年份", "Years counted provisionally"),
    "calendar_deadlines_n": ("{n} 个期限", "{n} deadlines"),
    "calendar_none_provisional": ("目前没有按预计日历计算的期限。", "No deadline is counted provisionally."),
    "calendar_provisional_help": ("录入这些年份后，相关办件的承诺办结日期和环节期限自动重算，并记入办件历史。",
                                  "Entering these years recounts their cases' dates and records it in each history."),
    "calendar_entered": ("已录入 {years} 年放假安排，已重算 {n} 件办件的预计期限；其余由定时任务继续重算",
                         "Entered {years}; recounted {n} case(s); the scheduler recounts any left"),
    "provisional_hint": ("该年放假安排尚未录入，按法定节假日预计；录入后自动重算",
                         "Counted on the statutory holidays: that year's arrangement is not entered yet; "
                         "recounted once it is"),
    "no_due_date": ("无法计算", "not countable"),
    "covering_for": ("代{name}办理", "covering for {name}"),
    "empty_mine": ("没有待办任务。可到“岗位待办”认领任务。", "No tasks. Claim tasks in “My post's tasks”."),
    "empty_post": ("本岗位暂无待认领的任务。", "Your post has no unclaimed tasks."),
    "empty_cover": ("您代岗的岗位暂无待办任务。", "The posts you stand in for have no open tasks."),
    "truncated": ("仅显示前 {n} 条", "Showing the first {n} only"),
    "claimed": ("已认领：{case} {step}", "Claimed: {case} {step}"),
    "released": ("已释放，任务回到岗位待认领：{case} {step}", "Released to the post: {case} {step}"),
    "sort_by_due": ("按承诺办结排序", "Sort by due date"),
    "sort_by_arrived": ("按到达时间排序", "Sort by arrival"),
    # new case
    "new_case_title": ("受理新申请", "New application"),
    "choose_item": ("办理事项", "Service item"),
    "choose_item_placeholder": ("请选择事项", "Choose an item"),
    "choose": ("选择", "Choose"),
    "village": ("受理村（社区）", "Village"),
    "applicant_section": ("申请人", "Applicant"),
    "applicant_name": ("申请人姓名", "Applicant name"),
    "applicant_id_number": ("身份证号码", "ID card number"),
    "applicant_id_help": ("18位居民身份证号码，最后一位可以是 X", "18-character resident ID number; the last may be X"),
    "applicant_phone": ("联系电话", "Phone"),
    "applicant_phone_help": ("11位手机号码或带区号的固定电话", "11-digit mobile or landline with area code"),
    "application_section": ("申请表", "Application form"),
    "submit_application": ("受理并提交", "Accept and submit"),
    "case_started": ("已受理，办件编号 {number}", "Accepted; case number {number}"),
    "only_accepting": ("只有村代办员和便民服务中心窗口人员可以受理新申请",
                       "Only village agents and service-centre window staff can accept new applications"),
    "choose_village_placeholder": ("请选择申请人所在村（社区）", "Choose the applicant's village"),
    "guide_section": ("办事指南", "Service guide"),
    "conditions": ("申请条件", "Conditions"),
    "materials": ("申请材料", "Required materials"),
    "material_required": ("必需", "required"),
    "material_optional": ("视情况", "if applicable"),
    "copies": ("{n}份", "{n} cop."),
    "basis": ("设立依据", "Legal basis"),
    "fee": ("收费", "Fee"),
    "department": ("实施机关", "Department"),
    "steps": ("办理流程", "Steps"),
    "promised_days": ("承诺时限", "Promised time"),
    "working_days": ("{n} 个工作日", "{n} working days"),
    "case_type": ("办件类型", "Case type"),
    "form_has_errors": ("表单填写有误，请按提示修改后重新提交：", "Please correct the following and submit again:"),
    "required_mark_hint": ("带 * 的为必填项", "Fields marked * are required"),
    "conditional_required": ("视情况必填", "required in some cases"),
    "range_hint": ("范围：{range}", "Range: {range}"),
    "choose_one": ("请选择", "Choose"),
    "range_gt": ("大于 {v}", "more than {v}"),
    "range_ge": ("不小于 {v}", "at least {v}"),
    "range_lt": ("小于 {v}", "less than {v}"),
    "range_le": ("不超过 {v}", "at most {v}"),
    "list_sep": ("，", ", "),
    "err_choice": ("“{title}”的取值不在可选范围内", "“{title}”: choose one of the options"),
    "err_too_long": ("“{title}”的数值过长", "“{title}”: the number is too long"),
    "err_integer": ("“{title}”应填写整数，“{text}”不是整数", "“{title}” must be a whole number; “{text}” is not"),
    "err_number": ("“{title}”应填写数字，“{text}”不是有效的数字", "“{title}” must be a number; “{text}” is not"),
    "err_boolean": ("“{title}”请选择是或否", "“{title}”: choose yes or no"),
    "err_date_format": ("“{title}”应为日期，格式为 年-月-日，例如 2026-03-02",
                        "“{title}” must be a date written as YYYY-MM-DD, e.g. 2026-03-02"),
    "err_date_invalid": ("“{title}”不是有效的日期", "“{title}” is not a valid date"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    # task
    "task_title": ("办理：{step}", "Handle: {step}"),
    "submit_task": ("提交", "Submit"),
    "back_to_inbox": ("返回待办", "Back to inbox"),
    "view_case": ("查看办件", "View case"),
    "task_done": ("已办理：{case} {step}", "Done: {case} {step}"),
    "task_not_open": ("该任务已不在办理中", "This task is no longer open"),
    "task_completed_by": ("该任务已由{who}于 {when} 办理完毕", "This task was completed by {who} at {when}"),
    "task_claimed_by_other": ("该任务已由{who}认领，您不能办理", "This task is claimed by {who}; you cannot handle it"),
    "task_not_your_post": ("您不是该任务所属岗位的人员，只能查看", "You do not hold this task's post; view only"),
    "task_unclaimed_note": ("该任务尚未认领，提交即视为由您认领并办理",
                            "This task is unclaimed; submitting claims it for you"),
    "task_you_are_away": ("您已标记为不在岗，请先恢复在岗再办理任务", "You are marked away; mark yourself back first"),
    "instructions": ("办理说明", "Instructions"),
    "case_summary": ("办件概况", "Case summary"),
    # case page
    "case_title": ("办件 {number}", "Case {number}"),
    "status": ("状态", "Status"),
    "status_running": ("办理中", "In progress"),
    "status_completed": ("已办结", "Completed"),
    "accepted_at": ("受理时间", "Accepted"),
    "promised_date": ("承诺办结日期", "Promised date"),
    "completed_at": ("办结时间", "Completed"),
    "started_by": ("受理人", "Accepted by"),
    "item_version": ("流程版本", "Procedure version"),
    "applicant_section_case": ("申请人", "Applicant"),
    "application_data": ("申请内容", "Application"),
    "computed_values": ("流程计算结果", "Computed values"),
    "step_data": ("各环节办理情况", "Steps handled"),
    "no_step_data": ("尚无环节办理完毕", "No step has been completed yet"),
    "handled_by_at": ("{who} · {when}", "{who} · {when}"),
    "open_tasks": ("当前环节", "Current steps"),
    "no_open_tasks": ("当前没有待办理的环节", "No open steps"),
    "post": ("岗位", "Post"),
    "holder": ("办理人", "Handler"),
    "unclaimed": ("待认领", "unclaimed"),
    "holder_away": ("（不在岗，由同岗位B岗办理）", " (away; the B post handles it)"),
    "waiting_timers": ("计时中", "Timers"),
    "timer_due": ("{when} 到期", "due {when}"),
    # the clock: pauses and step limits
    "clock_pauses": ("暂停计时", "Clock paused"),
    "clock_pauses_hint": ("以下期间不计入承诺办结期限（行政许可法第四十五条等）",
                          "Not counted against the promised date (Administrative Licensing Law §45 and others)"),
    "col_pause_reason": ("原因", "Reason"),
    "col_pause_period": ("起止", "From – to"),
    "col_pause_days": ("工作日", "Working days"),
    "pause_running": ("暂停中", "paused"),
    "pause_until_now": ("至今", "now"),
    "step_due_value": ("{date} 前（{n} 个工作日）", "by {date} ({n} working days)"),
    "step_done_late": ("逾期办结", "done late"),
    "diagram": ("流程图", "Diagram"),
    "legend_done": ("已完成", "completed"),
    "legend_active": ("办理中", "in progress"),
    "diagram_loading": ("正在加载流程图…", "Loading the diagram…"),
    "diagram_missing": ("流程图组件 bpmn-js 未安装：请在项目根目录运行 npm ci", "bpmn-js is not installed: run npm ci"),
    "diagram_failed": ("流程图加载失败：", "The diagram could not be loaded: "),
    "history": ("办理记录", "History"),
    "col_time": ("时间", "Time"),
    "col_actor": ("操作人", "Actor"),
    "col_kind": ("操作", "Action"),
    "col_change": ("内容（原值 → 新值）", "Change (before → after)"),
    "system": ("系统", "System"),
    # case list
    "cases_title": ("办件查询", "Cases"),
    "search_placeholder": ("办件编号、申请人姓名或身份证号码", "Case number, applicant name or ID number"),
    "search": ("查询", "Search"),
    "all_statuses": ("全部状态", "All"),
    "no_cases": ("没有符合条件的办件", "No cases found"),
    "col_status": ("状态", "Status"),
    "col_accepted": ("受理时间", "Accepted"),
    # incidents
    "incidents_title": ("异常办件", "Incidents"),
    "incidents_intro": ("定时器（如公示期）到期后流程出错的办件。每个办件单独处理，不影响其他办件；系统自动重试，"
                        "间隔从 {first} 秒起逐次加倍，失败 {cap} 次后停止重试，等待管理员处理。办件之后成功推进的，"
                        "异常自动关闭。",
                        "Cases whose step failed after a timer (such as a public-notice period) ran out. Each case is "
                        "handled on its own and holds up no other; the system retries, first after {first} seconds "
                        "and twice as long each time, and stops after {cap} failures for an administrator to "
                        "repair. A case that later moves on closes its incident."),
    "no_incidents": ("没有异常办件：所有到期的定时器都已正常推进", "No incidents: every due timer moved its case on"),
    "col_failed_step": ("出错环节", "Failed step"),
    "col_reason": ("原因", "Reason"),
    "col_attempts": ("失败次数", "Failures"),
    "col_next_try": ("下次重试", "Next try"),
    "col_opened": ("首次出错", "First failed"),
    "col_last_failed": ("最近出错", "Last failed"),
    "given_up": ("已停止重试", "Retrying stopped"),
    # supervision desk (电子监察)
    "nav_desk": ("电子监察", "Supervision"),
    "nav_approvals": ("延期审批", "Extensions"),
    "desk_title": ("电子监察台", "Supervision desk"),
    "desk_export_csv": ("导出 CSV", "Export CSV"),
    "desk_export_xlsx": ("导出 Excel", "Export Excel"),
    "desk_period": ("统计期间", "Period"),
    "desk_period_this_month": ("本月", "This month"),
    "desk_period_last_month": ("上月", "Last month"),
    "desk_period_this_year": ("本年", "This year"),
    "desk_period_range": ("自定义起止日期", "From – to"),
    "desk_period_note": ("统计 {start} 至 {end} 期间在办的期限：在办、黄牌、红牌为当前状态，"
                         "逾期办结为期间内办结时已超期的。",
                         "Deadlines running between {start} and {end}: open, yellow and red as they stand now; "
                         "completed late if finished late within the period."),
    "desk_from": ("开始日期", "From"),
    "desk_to": ("结束日期", "To"),
    "desk_all": ("全部", "All"),
    "desk_apply": ("查询", "Show"),
    "desk_card_any": ("黄牌和红牌", "Yellow and red"),
    "desk_card_yellow": ("黄牌", "Yellow card"),
    "desk_card_red": ("红牌", "Red card"),
    "desk_case": ("办件期限", "Case clocks"),
    "desk_step": ("环节时限", "Step limits"),
    "desk_case_clocks": ("办件期限（承诺办结）", "Case clocks (promised date)"),
    "desk_step_clocks": ("环节时限", "Step limits"),
    "desk_open": ("在办", "open"),
    "desk_yellow": ("黄牌", "yellow"),
    "desk_red": ("红牌", "red"),
    "desk_late": ("逾期办结", "completed late"),
    "desk_short_open": ("在办", "open"),
    "desk_short_yellow": ("黄", "yel."),
    "desk_short_red": ("红", "red"),
    "desk_short_late": ("逾期结", "late"),
    "desk_overdue_total": ("超期合计", "overdue"),
    "desk_chart_towns": ("各乡镇期限情况", "Deadlines by town"),
    "desk_chart_items": ("各事项超期与黄牌", "Overdue and yellow by item"),
    "desk_chart_missing": ("图表组件 echarts 未安装（npm ci）", "echarts is not installed (npm ci)"),
    "desk_carded": ("黄牌、红牌办件和环节", "Yellow and red cases and steps"),
    "desk_no_cards": ("当前没有黄牌或红牌", "No yellow or red cards now"),
    "desk_nothing": ("该期间没有期限", "No deadlines in this period"),
    "desk_by_town": ("按乡镇", "By town"),
    "desk_by_department": ("按部门（岗位）", "By department (post)"),
    "desk_by_item": ("按事项", "By item"),
    "desk_by_handler": ("按办理人（环节时限）", "By handler (step limits)"),
    "desk_dim_town": ("乡镇", "Town"),
    "desk_dim_department": ("部门（岗位）", "Department (post)"),
    "desk_dim_item": ("事项", "Item"),
    "desk_dim_handler": ("办理人", "Handler"),
    "desk_col_card": ("牌色", "Card"),
    "desk_col_kind": ("类型", "Kind"),
    "desk_col_town": ("乡镇", "Town"),
    "desk_col_deadline": ("期限", "Deadline"),
    "desk_col_due": ("到期日", "Due"),
    "desk_col_days_overdue": ("逾期天数", "Days overdue"),
    "desk_sheet_carded": ("黄牌红牌", "Cards"),
    "desk_provisional": ("预计", "provisional"),
    # extensions (延期)
    "ext_title": ("延期", "Extensions"),
    "ext_none": ("没有延期申请", "No extension asked"),
    "ext_ask": ("申请延期", "Ask for an extension"),
    "ext_deadline": ("期限", "Deadline"),
    "ext_days": ("延期天数", "Days"),
    "ext_days_label": ("延期天数（工作日）", "Days (working days)"),
    "ext_reason": ("延期理由", "Reason"),
    "ext_asked_by": ("申请人", "Asked by"),
    "ext_decision": ("审批", "Decision"),
    "ext_note": ("审批意见", "Note"),
    "ext_note_placeholder": ("审批意见（不予批准时必填）", "Note (required to refuse)"),
    "ext_approve": ("批准", "Approve"),
    "ext_refuse": ("不予批准", "Refuse"),
    "ext_submit": ("提交延期申请", "Ask"),
    "ext_due_now": ("现到期日 {date}", "due {date}"),
    "ext_cap_help": ("延期合计不超过 {cap} 个工作日（《行政许可法》第四十二条）；"
                     "办件期限和村、乡镇环节由乡镇分管领导审批，县级环节由该县级部门审批。",
                     "At most {cap} working days in all (Administrative Licensing Law §42); the town leader decides "
                     "for the case and village or town steps, the county department for its own steps."),
    "ext_status_pending": ("待审批", "pending"),
    "ext_status_approved": ("已批准", "approved"),
    "ext_status_refused": ("不予批准", "refused"),
    "extension_asked": ("已提交延期申请（{days} 个工作日），等待审批", "Extension of {days} working days asked"),
    "extension_refused": ("未能提交：{reason}", "Not done: {reason}"),
    "extension_approved": ("已批准延期 {days} 个工作日，到期日已顺延", "Extension of {days} working days approved"),
    "extension_declined": ("已不予批准该延期申请", "Extension refused"),
    "approvals_title": ("延期审批", "Extensions to decide"),
    "approvals_intro": ("由您审批的延期申请。批准后期限按工作日顺延，并记入办件历史；不予批准须写明理由。",
                        "Extensions waiting for your decision. Approval moves the due date in working days and is "
                        "recorded in the case history; a refusal needs a reason."),
    "approvals_none": ("没有待审批的延期申请", "Nothing to decide"),
    # errors
    "error_title": ("出错了", "Something went wrong"),
    "not_found": ("页面不存在", "Page not found"),
    "method_not_allowed": ("不支持该操作", "Method not allowed"),
    "server_error": ("系统内部错误，请稍后重试或联系系统管理员",
                     "Internal error; try again later or contact the administrator"),
    "back_home": ("返回首页", "Back to the start page"),
}

EVENT_KINDS: dict[str, tuple[str, str]] = {
    "case_started": ("受理", "accepted"),
    "task_created": ("任务到达", "task arrived"),
    "task_claimed": ("认领", "claimed"),
    "task_released": ("释放（取消认领）", "released"),
    "task_completed": ("办理", "completed step"),
    "task_cancelled": ("任务撤销", "task cancelled"),
    "timer_started": ("开始计时", "timer started"),
    "timer_fired": ("计时届满", "timer elapsed"),
    "case_completed": ("办结", "case completed"),
    "due_date_set": ("确定承诺日期", "promised date set"),
    "due_date_changed": ("期限重算", "due date recounted"),
    "card_raised": ("亮牌（电子监察）", "card raised"),
    "variables_set": ("流程计算", "values computed"),
    "clock_started": ("受理起算", "clock started"),
    "clock_paused": ("暂停计时", "clock paused"),
    "clock_resumed": ("恢复计时", "clock resumed"),
    "extension_requested": ("申请延期", "extension asked"),
    "extension_decided": ("延期审批", "extension decided"),
}

# Keys of event payloads shown in the history.
EVENT_FIELDS: dict[str, tuple[str, str]] = {
    "assignee": ("办理人", "handler"),
    "due_at": ("到期时间", "due"),
    "result": ("办理结果", "result"),
    "promised_date": ("承诺办结日期", "promised date"),
    "promised_note": ("期限说明", "deadline note"),
    # Keys of history rows written before the promised date was named as such; rows are never rewritten.
    "due_date": ("承诺办结日期", "promised date"),
    "due_note": ("期限说明", "deadline note"),
    "provisional": ("预计（放假安排未录入）", "provisional (holidays not entered)"),
    "promised_provisional": ("预计（放假安排未录入）", "provisional (holidays not entered)"),
    "why": ("原因", "reason"),
    "version": ("流程版本", "procedure version"),
    "applicant": ("申请人", "applicant"),
    "post": ("岗位", "post"),
    "pause_reason": ("暂停原因", "pause reason"),
    "working_days": ("暂停工作日", "working days paused"),
    "card": ("警示", "card"),
    "notified": ("提醒人数", "people notified"),
    "extension": ("延期申请编号", "extension no."),
    "days": ("延期天数（工作日）", "days (working days)"),
    "reason": ("延期理由", "reason"),
    "decision": ("审批结果", "decision"),
    "note": ("审批意见", "note"),
}

CARD_COLORS: dict[str, tuple[str, str]] = {
    "yellow": ("黄牌", "yellow card"),
    "red": ("红牌", "red card"),
}

EXTENSION_DECISIONS: dict[str, tuple[str, str]] = {
    "approved": ("批准", "approved"),
    "refused": ("不予批准", "refused"),
}

# A case's result (the end event's caseResult); a procedure's own result codes are shown as they are.
CASE_RESULTS: dict[str, tuple[str, str]] = {
    "approved": ("准予", "Granted"),
    "rejected": ("不予", "Refused"),
    "completed": ("办结", "Done"),
}

CASE_TYPES: dict[str, tuple[str, str]] = {
    "immediate": ("即办件", "immediate"),
    "promised": ("承诺件", "promised"),
    "joint": ("联办件", "joint"),
    "escalated": ("上报件", "escalated"),
}


def current_language() -> str:
    lang = session.get("lang") if _has_request() else None
    return lang if lang in LANGUAGES else DEFAULT


def t(key: str, **values: Any) -> str:
    """The UI string for `key` in the current language, formatted with `values`."""
    pair = STRINGS.get(key)
    if pair is None:
        return key
    text = pair[1] if current_language() == "en" else pair[0]
    return text.format(**values) if values else text


def label(table: dict[str, tuple[str, str]], code: str | None) -> str:
    if code is None:
        return ""
    pair = table.get(code)
    if pair is None:
        return code
    return pair[1] if current_language() == "en" else pair[0]


def lang_url(lang: str) -> str:
    args = request.args.to_dict()
    args["lang"] = lang
    from urllib.parse import urlencode

    return request.path + "?" + urlencode(args)


def _has_request() -> bool:
    from flask import has_request_context

    return has_request_context()


def _remember_language() -> None:
    lang = request.args.get("lang")
    if lang in LANGUAGES and session.get("lang") != lang:
        session["lang"] = lang


def install(app: Flask) -> None:
    app.before_request(_remember_language)
    app.jinja_env.globals.update(
        t=t, lang=current_language, lang_url=lang_url,
        event_kind=lambda code: label(EVENT_KINDS, code), case_type=lambda code: label(CASE_TYPES, code),
        case_result=lambda code: label(CASE_RESULTS, code), card_name=lambda code: label(CARD_COLORS, code),
    )

    @app.context_processor
    def _html_lang() -> dict[str, Any]:
        return {"html_lang": Markup("zh-CN" if current_language() == "zh" else "en")}
