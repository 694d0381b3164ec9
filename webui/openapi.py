"""The OpenAPI 3.1 description of the JSON API in webui/api.py, served at /api/v1/openapi.json."""

from __future__ import annotations

import copy
from typing import Any

from engine.audit import desk as audit_desk
from engine.audit import privacy
from engine.supervision import desk
from engine.tasks import inbox
from engine.vocabulary import (
    AppointmentKind,
    AppointmentSlot,
    AppointmentStatus,
    Arrival,
    CaseStatus,
    Channel,
    DeadlineStatus,
    DocumentKind,
    EventKind,
    ExtensionStatus,
    FollowUpStatus,
    IncidentKind,
    RatingLevel,
    TaskStatus,
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
DATE_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601，北京时间（+08:00）"}
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time", "description": "ISO 8601，北京时间（+08:00）"}
NULLABLE_DATE = {"type": ["string", "null"], "format": "date"}
CARD = {"enum": ["", "yellow", "red"],
        "description": "警示：yellow 黄牌（进入预警期，即将超期）、red 红牌（已超期）、空串为无"}
CARD_FILTER = {"name": "card", "in": "query", "required": False, "schema": {"enum": ["yellow", "red"]},
               "description": "只列出显示该警示的：yellow 即将超期，red 已超期"}
ANY_OBJECT = {"type": "object", "additionalProperties": True}
CHANNELS = {"type": "object", "description": "每类提醒（card、chase、task、system）同时发往的方式",
            "additionalProperties": {"type": "array", "items": {"enum": ["sms", "email"]}, "uniqueItems": True}}

# 预计: a date counted on a year whose 放假安排 is not entered; recounted (and this turns false) once it is.
PROVISIONAL = {"type": "boolean", "description": "预计：按法定节假日推算（该年放假安排尚未录入），录入后自动重算"}
CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"},
           "description": "办件 ID"}
DOCUMENT_ID = {"name": "document_id", "in": "path", "required": True, "schema": {"type": "integer"},
               "description": "文书 ID"}
TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"},
           "description": "任务 ID（UUID）"}

UNAUTHORIZED = _error("未提供访问令牌，或令牌无效、已撤销、已过期（响应带 WWW-Authenticate: Bearer）")
BAD_REQUEST = _error("请求体不是 JSON 对象，或参数格式不正确")
NOT_FOUND = _error("对象不存在，或不在调用者的辖区内")
FORBIDDEN = _error("无权执行该操作（不是该岗位人员、不在辖区内、已标记不在岗等）")
CONFLICT = _error("状态冲突：例如任务已由他人认领，或已由某人于某时办理完毕")
UNDECLARED_FIELDS = _error("请求体不是 JSON 对象，或提交了表单未定义的字段、系统保留的名称（以下划线开头、"
                           "脚本可用的函数名、case_number 等）：fields 逐个列出，未作任何保存")
UNPROCESSABLE = _error("数据校验未通过：消息说明问题，details 逐条列出")

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "可直接展示给用户的中文说明"},
            "details": {"type": "array", "items": STRING, "description": "逐条列出的具体问题"},
            "fields": {"type": "object", "additionalProperties": {"type": "array", "items": STRING},
                       "description": "仅数据校验未通过（422）或提交了表单未定义的字段（400）时出现：按字段名"
                                      "（申请人信息为 name、id_number、phone，表单为其属性名）归类的问题；"
                                      "针对整张表单的问题只在 details 中"},
            "problems": {"type": "array", "items": _ref("Problem"),
                         "description": "仅部署流程被拒绝时：每个问题所在的文件和流程图元素，可据此在流程图上标出"},
        },
    },
    "Problem": {
        "type": "object",
        "required": ["file", "message", "severity"],
        "properties": {
            "file": {"type": "string", "description": "问题所在文件，如 上传的流程/process.bpmn、上传的流程/item.toml"},
            "message": {"type": "string", "description": "中文说明（不含文件和元素）"},
            "element_id": {"type": ["string", "null"], "description": "BPMN 元素 id；问题不在某个元素上时为 null"},
            "element_name": {"type": ["string", "null"], "description": "BPMN 元素名称"},
            "severity": {"enum": ["error", "warning"],
                         "description": "error 拒绝部署；warning 只是提示（例如条件读取的变量没有表单字段或脚本设置）"},
        },
    },
    "Person": {
        "type": ["object", "null"],
        "properties": {"username": STRING, "display_name": STRING},
    },
    "Place": {
        "type": "object",
        "properties": {"code": {"type": "string", "description": "行政区划代码"}, "name": STRING,
                       "level": {"enum": ["county", "town", "village"]}},
    },
    "OrgNode": {
        "type": "object",
        "required": ["code", "name", "level", "children"],
        "properties": {
            "code": {"type": "string", "description": "行政区划代码"},
            "name": STRING,
            "level": {"enum": ["county", "town", "village"]},
            "children": {"type": "array", "items": _ref("OrgNode")},
        },
    },
    "Material": {
        "type": "object",
        "properties": {"name": STRING, "required": {"type": "boolean"}, "copies": {"type": "integer"}},
    },
    "Item": {
        "type": "object",
        "description": "事项及其当前部署版本的办事指南",
        "properties": {
            "code": STRING, "name": STRING, "version": {"type": "integer"}, "deployed_at": DATE_TIME,
            "case_type": {"enum": ["immediate", "promised", "joint", "escalated"]},
            "promised_days": {"type": "integer", "description": "承诺时限（工作日）"},
            "statutory_days": {"type": "integer", "description": "法定时限（工作日）"},
            "fee": STRING, "department": NULLABLE_STRING, "conditions": STRING, "basis": STRING,
            "steps": {"type": "array", "items": STRING},
            "materials": {"type": "array", "items": _ref("Material")},
            "application_form": {**NULLABLE_STRING, "description": "申请表 JSON Schema 文件名"},
            "application_schema": {"type": ["object", "null"], "description": "申请表 JSON Schema（data 须符合它）"},
        },
    },
    "NotificationSettings": {
        "type": "object",
        "properties": {
            "phone": {"type": ["string", "null"]}, "email": {"type": ["string", "null"]},
            "channels": CHANNELS,
            "groups": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "提醒类别及其名称：card 黄牌红牌，chase 催办，task 转办委派抄送等，"
                                      "system 故障与整改"},
            "sent_today": {"type": "integer", "description": "今天已发给本人的短信和邮件条数"},
            "daily_cap": {"type": ["integer", "null"], "description": "每人每天的上限（BIANMIN_NOTIFY_DAILY_CAP）"},
        },
    },
    "ApplicantIn": {
        "type": "object",
        "required": ["name", "id_number", "phone"],
        "properties": {
            "name": {"type": "string", "minLength": 2, "maxLength": 30, "description": "姓名，2 至 30 个字"},
            "id_number": {"type": "string", "pattern": "^[0-9]{17}[0-9Xx]$",
                          "description": "18 位居民身份证号码（校验位必须正确）"},
            "phone": {"type": "string", "pattern": "^[0-9][0-9 -]{5,20}[0-9]$",
                      "description": "11 位手机号码或带区号的固定电话（7、11 或 12 位数字，可含空格、连字符）"},
            "notify": {"type": "array", "items": {"enum": ["sms", "email"]}, "uniqueItems": True,
                       "description": "申请人选择的受理、补正、办结通知方式；省略时向手机号码发短信，空数组为不通知"},
            "email": {"type": "string", "maxLength": 320, "description": "电子邮箱，选择 email 通知时必填"},
        },
    },
    "StartCase": {
        "type": "object",
        "required": ["item_code", "village_code", "applicant"],
        "properties": {
            "item_code": {"type": "string", "examples": ["MZ-DIBAO"]},
            "village_code": {"type": "string", "description": "申请人所在村（社区）的行政区划代码",
                             "examples": ["510123101201"]},
            "applicant": _ref("ApplicantIn"),
            "data": {**ANY_OBJECT, "description": "申请表数据，须符合事项的 application_schema"},
            "intake": _ref("IntakeIn"),
        },
    },
    "IntakeIn": {
        "type": "object",
        "description": "窗口收件：材料清单与处理结果。不提供时视为材料全部收齐并受理。",
        "properties": {
            "materials": {"type": "array", "description": "逐项勾选事项 item.toml 所列材料；未列出的材料视为未收取",
                          "items": {"type": "object", "required": ["name"], "properties": {
                              "name": STRING, "received": {"type": "boolean"},
                              "copies": {"type": "integer", "minimum": 1, "maximum": 99},
                              "original": {"type": "boolean", "description": "已验原件"}}}},
            "outcome": {"enum": ["accept", "supplement", "receive", "refuse"], "default": "accept",
                        "description": "accept：材料齐全，受理；supplement：出具一次性告知书（补正）；"
                                       "receive：收件待审（行政许可法第三十二条：5 个工作日内未告知的，"
                                       "自收件之日起视为受理）；"
                                       "refuse：不予受理（须 reasons 与 basis）"},
            "notes": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 200},
                      "description": "一次性告知书上对各缺少材料的说明，按材料名称"},
            "reasons": {"type": "string", "maxLength": 1000, "description": "不予受理理由"},
            "basis": {"type": "string", "maxLength": 1000, "description": "不予受理依据"},
            "confirm_repeat": {"type": "boolean",
                               "description": "事项允许重复申请（repeats = \"warn\"）时，确认同一申请人的重复申请"},
        },
    },
    "CaseIntake": {
        "type": "object",
        "description": "办件的窗口收件记录",
        "properties": {
            "case_id": {"type": "integer"}, "status": {"enum": list(CaseStatus)},
            "materials": {"type": "array", "items": ANY_OBJECT}, "received_at": DATE_TIME, "received_by": STRING,
            "notice_at": NULLABLE_DATE_TIME,
            "notice_missing": {"type": ["array", "null"], "items": ANY_OBJECT,
                               "description": "一次性告知书所列全部待补正材料"},
            "section32": {"type": ["object", "null"], "description": "收件待审时：提醒日与视为受理日",
                          "properties": {"warn_on": NULLABLE_DATE, "deemed_on": NULLABLE_DATE,
                                         "days_left": {"type": ["integer", "null"]}}},
            "refused_at": NULLABLE_DATE_TIME, "refusal_reasons": NULLABLE_STRING, "refusal_basis": NULLABLE_STRING,
        },
    },
    "CaseTask": {
        "type": "object",
        "description": "办件的一个待办任务",
        "properties": {
            "id": STRING, "step": STRING, "element_id": STRING,
            "role": {"type": "object", "properties": {"code": STRING, "name": STRING}},
            "org": _ref("Place"), "assignee": _ref("Person"), "created_at": DATE_TIME,
            "form": {**NULLABLE_STRING, "description": "表单 JSON Schema 文件名"},
            "card": {**CARD, "description": "该环节自身时限的警示（无环节时限时为空串）"},
            "step_due_date": {**NULLABLE_DATE, "description": "该环节自身的办理期限（无则为 null）"},
        },
    },
    "CaseSummary": {
        "type": "object",
        "description": "办件概要（办件列表的一行）",
        "properties": {
            "id": {"type": "integer"}, "case_number": {"type": "string", "description": "办件编号"},
            "item_code": STRING, "item_name": STRING,
            "status": {"enum": list(CaseStatus)},
            "result": {"type": ["string", "null"], "description": "办结结果，如 approved、rejected"},
            "applicant": {
                "type": "object",
                "properties": {"name": STRING, "id_number": {"type": "string", "description": "已脱敏"},
                               "phone": STRING},
            },
            "village": _ref("Place"), "accepted_at": DATE_TIME,
            "promised_date": {**NULLABLE_DATE, "description": "承诺办结日期（按工作日计算）"},
            "promised_provisional": PROVISIONAL,
            "promised_note": {**NULLABLE_STRING, "description": "无法计算承诺日期时的说明"},
            "completed_at": NULLABLE_DATE_TIME,
            "card": {**CARD, "description": "办件当前最重的警示：办件整体或任一未办结环节"},
        },
    },
    "Case": {
        "allOf": [_ref("CaseSummary"), {
            "type": "object",
            "properties": {
                "tasks": {"type": "array", "items": _ref("CaseTask")},
                "completed_task_id": {"type": "string", "description": "仅在办理任务的响应中出现"},
            },
        }],
    },
    "CaseList": {
        "type": "object",
        "properties": {"cases": {"type": "array", "items": _ref("CaseSummary")}},
    },
    "CaseDetail": {
        "allOf": [_ref("Case"), {
            "type": "object",
            "properties": {"data": {
                "type": "object",
                "properties": {
                    "application": ANY_OBJECT,
                    "steps": {"type": "array", "items": {
                        "type": "object",
                        "properties": {"task_id": STRING, "step": STRING, "completed_at": DATE_TIME,
                                       "completed_by": STRING, "data": ANY_OBJECT},
                    }},
                },
            }, "clock_pauses": {
                "type": "array",
                "description": "不计入办理期限的暂停计时（公示、补正、现场勘察、听证、检验检测、鉴定、专家评审），"
                               "按开始时间排序",
                "items": {"type": "object", "properties": {
                    "reason": STRING, "step": STRING, "element_id": STRING, "started_at": DATE_TIME,
                    "ended_at": {**NULLABLE_DATE_TIME, "description": "仍在暂停时为 null"},
                    "working_days": {"type": ["integer", "null"], "description": "暂停的工作日数，结束时计算"},
                }},
            }, "variables": {
                **ANY_OBJECT,
                "description": "流程脚本计算出的值（如救助金额、是否符合条件），键为变量名；日期等以文本表示",
            }},
        }],
    },
    "Task": {
        "type": "object",
        "properties": {
            "id": STRING, "case_id": {"type": "integer"}, "case_number": STRING, "item_code": STRING,
            "item_name": STRING, "step": STRING, "element_id": STRING, "role": STRING,
            "status": {"enum": list(TaskStatus)}, "applicant_name": STRING,
            "applicant_id_number": {"type": "string", "description": "已脱敏"}, "village": _ref("Place"),
            "created_at": DATE_TIME, "promised_date": NULLABLE_DATE, "promised_provisional": PROVISIONAL,
            "assignee": _ref("Person"),
            "form": {**NULLABLE_STRING, "description": "表单 JSON Schema 文件名"},
            "ui_form": {**NULLABLE_STRING, "description": "表单界面 Schema 文件名"},
            "card": {**CARD, "description": "任务显示的警示：环节自身的，没有时为办件的"},
            "step_due_date": {**NULLABLE_DATE, "description": "该环节自身的办理期限（无则为 null）"},
            "arrival": {"enum": [*Arrival, None], "description":
                        "任务不是随办件正常流转到达时，到达的方式：sent_back 退回、withdrawn 撤回、transferred 转办、"
                        "delegated 委派、delegate_answered 受委派人办理后交回、sign_off 会签/或签、"
                        "added_signer 加签、signed_before 前加签人已签署后回到本人"},
            "arrival_note": {**NULLABLE_STRING, "description": "退回、撤回、转办、委派或加签时写明的理由"},
            "signing_for": {**NULLABLE_STRING, "description": "会签或加签任务所签署的流程任务 ID"},
            "sign_position": {"enum": ["before", "after", None], "description": "加签人在原办理人之前或之后签署"},
            "delegated_at": {**NULLABLE_DATE_TIME, "description": "仅 scope=delegated 的列表给出：委派给同事的时间"},
        },
    },
    "Notification": {
        "type": "object",
        "description": "一条提醒（如办件或环节亮黄牌、红牌）；同一事由对同一人只有一条",
        "properties": {
            "id": {"type": "integer"}, "kind": {"type": "string", "description": "如 card（亮牌）"},
            "title": STRING, "body": STRING, "case_id": {"type": ["integer", "null"]},
            "case_number": NULLABLE_STRING, "card": {**CARD, "description": "所提醒的警示（非亮牌提醒为空串）"},
            "created_at": DATE_TIME, "read_at": {**NULLABLE_DATE_TIME, "description": "已读时间，未读为 null"},
        },
    },
    "NotificationList": {
        "type": "object",
        "properties": {"unread": {"type": "integer", "description": "未读条数"},
                       "notifications": {"type": "array", "items": _ref("Notification")}},
    },
    "TaskDetail": {
        "allOf": [_ref("Task"), {
            "type": "object",
            "properties": {
                "form_schema": {"type": ["object", "null"]}, "ui_schema": {"type": ["object", "null"]},
                "step_deadline": {
                    "type": ["object", "null"],
                    "description": "该环节自身的时限（流程图 timeLimitWorkingDays，自任务到达起按工作日计算）；"
                                   "无时限为 null",
                    "properties": {
                        "limit_days": {"type": "integer"}, "due_date": NULLABLE_DATE,
                        "provisional": {"type": "boolean", "description": "按尚未公布的节假日安排预计"},
                        "status": {"enum": list(DeadlineStatus)},
                        "late": {"type": ["boolean", "null"], "description": "办结时是否已超过该时限"},
                    },
                },
            },
        }],
    },
    "TaskList": {
        "type": "object",
        "properties": {"scope": {"enum": list(inbox.SCOPES)}, "tasks": {"type": "array", "items": _ref("Task")}},
    },
    "StepHeld": {
        "type": "object",
        "properties": {
            "error": {"type": "string",
                      "description": "可直接展示给办理人的中文说明：出错位置、原因，以及填写内容已保存"},
            "details": {"type": "array", "items": STRING},
            "held": {"const": True}, "incident_id": {"type": "integer", "description": "异常办件编号"},
            "element": {**NULLABLE_STRING, "description": "出错的流程图元素名称"},
        },
    },
    "MigrateCase": {
        "type": "object", "required": ["version_id"],
        "properties": {
            "version_id": {"type": "integer", "description": "目标流程版本的编号（同一事项、更新的版本）"},
            "mapping": {"type": "object", "additionalProperties": STRING,
                        "description": "当前所在环节的元素 ID → 新版本中的元素 ID；未列出的按相同 ID 对应"},
        },
    },
    "CompleteTask": {
        "type": "object",
        "properties": {"data": {**ANY_OBJECT, "description": "该环节表单数据，须符合任务的 form_schema"}},
    },
    "Event": {
        "type": "object",
        "properties": {
            "seq": {"type": "integer"}, "at": DATE_TIME, "actor": STRING,
            "kind": {"enum": list(EventKind)},
            "task_id": NULLABLE_STRING, "step": NULLABLE_STRING,
            "before": {"type": ["object", "null"]}, "after": {"type": ["object", "null"]},
            "prev_hash": STRING, "hash": {"type": "string", "description": "SHA-256，与上一条记录的 hash 链接"},
        },
    },
    "ChainProblem": {
        "type": "object",
        "properties": {
            "seq": {"type": "integer", "description": "出问题的记录所在（或应在）的序号"},
            "event_id": {"type": ["integer", "null"], "description": "该记录的行号；记录已缺失时为 null"},
            "kind": {"enum": ["altered", "missing", "inserted", "out_of_order", "truncated"],
                     "description": "被改动 / 缺失 / 被插入 / 顺序被调换 / 末尾被截断"},
            "message": STRING,
        },
    },
    "ExportedEvent": {
        "type": "object",
        "required": ["case_id", "seq", "at", "actor_id", "actor_name", "kind", "task_id", "step", "before", "after",
                     "prev_hash", "hash"],
        "description": "一条记录，哈希所覆盖的字段与库中所存完全一致（离线核验逐字重算）；"
                       "readable 仅供阅读，不参与核验",
        "properties": {
            "case_id": {"type": "integer"}, "seq": {"type": "integer"},
            "at": {"type": "string", "format": "date-time",
                   "description": "ISO 8601，协调世界时（+00:00），即哈希时的写法"},
            "actor_id": {"type": ["integer", "null"]}, "actor_name": STRING, "kind": STRING,
            "task_id": NULLABLE_STRING, "step": NULLABLE_STRING,
            "before": {"type": ["object", "null"]}, "after": {"type": ["object", "null"]},
            "post": {"type": "string", "description": "办理人岗位（角色代码@组织 ID）；只在记录了时出现"},
            "address": {"type": "string", "description": "办理人的来源地址；只在记录了时出现"},
            "prev_hash": STRING, "hash": {"type": "string", "description": "SHA-256，与上一条记录的 hash 链接"},
            "readable": {"type": "object", "properties": {
                "at_local": STRING, "post_name": NULLABLE_STRING}},
        },
    },
    "CaseExport": {
        "type": "object",
        "required": ["format", "chain", "case", "head", "exported_at", "exported_by", "verify", "events"],
        "description": "办件全程记录导出文件：保存为 .json 后用 engine/audit/links.py 离线核验",
        "properties": {
            "format": {"const": "bianmin-case-history/1"}, "chain": {"const": "case"},
            "case": {"type": "object", "description": "办件概况：编号、事项及版本、申请人（身份证号脱敏）、县乡村、"
                                                      "受理/承诺/办结日期、状态", "additionalProperties": True},
            "head": {"type": "object", "required": ["event_count", "last_event_hash"], "properties": {
                "event_count": {"type": "integer"}, "last_event_hash": STRING}},
            "exported_at": DATE_TIME, "exported_by": STRING,
            "verify": {"type": "object", "properties": {
                "command": STRING, "script": STRING, "script_sha256": STRING, "note": STRING}},
            "events": {"type": "array", "items": _ref("ExportedEvent")},
        },
    },
    "Document": {
        "type": "object",
        "required": ["id", "kind", "title", "number", "issuer", "issued_at", "facts", "facts_sha256", "pdf_url"],
        "properties": {
            "id": {"type": "integer"}, "kind": {"enum": list(DocumentKind)}, "title": STRING,
            "number": {"type": "string", "description": "文号，按签发单位和年度编号，如 清水镇便民受〔2026〕12号"},
            "issuer": {"type": "string", "description": "签发单位"}, "issued_at": DATE_TIME, "issued_by": STRING,
            "facts": {"type": "object", "additionalProperties": True,
                      "description": "文书内容：材料清单、承诺日期、理由、决定岗位、救济途径等，因种类而异"},
            "facts_sha256": {"type": "string", "description": "facts 规范化 JSON 的 SHA-256，与历史记录一致"},
            "pdf_sha256": {"type": ["string", "null"], "description": "出具的 PDF 的 SHA-256，首次生成后记录"},
            "pdf_url": STRING,
        },
    },
    "DocumentList": {
        "type": "object",
        "properties": {"case_id": {"type": "integer"}, "case_number": STRING,
                       "documents": {"type": "array", "items": _ref("Document")}},
    },
    "EventList": {
        "type": "object",
        "properties": {
            "case_id": {"type": "integer"}, "case_number": STRING,
            "chain_intact": {"type": "boolean", "description": "重新计算哈希链后记录未被改动"},
            "problems": {"type": "array", "description": "每处断裂一条，按 seq 排序；链完整时为空",
                         "items": _ref("ChainProblem")},
            "events": {"type": "array", "items": _ref("Event")},
        },
    },
    "DeployUpload": {
        "type": "object",
        "description": "一个流程文件夹：用 files 逐个上传其中的文件，或用 item_toml、diagram、forms 字段；两种可混用。"
                       "spiff-arena 的流程模型文件夹可原样上传（process_model.json 指明主流程图，表单与流程图同级），"
                       "另加办事指南 item.toml。",
        "properties": {
            "files": {"type": "array", "items": {"type": "string", "contentMediaType": "application/octet-stream"},
                      "description": "文件夹中的文件，文件名为其在文件夹内的路径，如 process_model.json、"
                                     "application-schema.json、forms/town_review.schema.json、item.toml"},
            "item_toml": {"type": "string", "contentMediaType": "application/toml",
                          "description": "办事指南（即文件夹中的 item.toml）"},
            "diagram": {"type": "string", "contentMediaType": "application/xml",
                        "description": "BPMN 流程图（.bpmn，UTF-8，不超过服务器上限（默认 2 MB），不得含 DOCTYPE）"},
            "forms": {"type": "array", "items": {"type": "string", "contentMediaType": "application/json"},
                      "description": "表单 JSON Schema 文件（即文件夹中 forms/ 下的文件），"
                                     "文件名须与流程图中引用的一致"},
        },
    },
    "Incident": {
        "type": "object",
        "required": ["id", "case_id", "case_number", "kind", "step", "message", "attempts", "given_up", "opened_at",
                     "last_failed_at"],
        "properties": {
            "id": {"type": "integer"}, "case_id": {"type": "integer"}, "case_number": STRING,
            "item_name": STRING, "village_name": STRING, "applicant_name": STRING,
            "kind": {"enum": list(IncidentKind), "description": "timer：定时器（如公示期）到期后的流程；"
                     "step：办理人提交后的流程（填写内容已保存，由管理员重试、迁移或撤销）"},
            "step": {"type": "string", "description": "出错的环节，如 定时器“初审公示7天”到期后的流程，"
                                                      "或出错的流程图元素名称"},
            "task_id": {**NULLABLE_STRING, "description": "step：保存了填写内容的任务"},
            "message": {"type": "string", "description": "最近一次出错的原因（中文）"},
            "attempts": {"type": "integer", "minimum": 1, "description": "已失败的次数"},
            "next_try_at": {**NULLABLE_DATE_TIME, "description": "下次自动重试的时间；已停止重试时为 null"},
            "given_up": {"type": "boolean", "description": "失败次数已达上限，不再自动重试，需管理员处理"},
            "opened_at": DATE_TIME, "last_failed_at": DATE_TIME,
        },
    },
    "DeployResult": {
        "type": "object",
        "properties": {"item_code": STRING, "version": {"type": "integer"},
                       "created": {"type": "boolean", "description": "false 表示与当前版本完全相同，未新建版本"},
                       "warnings": {"type": "array", "items": _ref("Problem"),
                                    "description": "不妨碍部署的提示，请检查后决定是否修改"}},
    },
}

COUNTS = {"type": "object", "description": "当前在办、黄牌、红牌，以及期间内逾期办结的数量",
          "properties": {name: {"type": "integer"} for name in desk.MEASURES}}
SCHEMAS.update({
    "Extension": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"}, "case_id": {"type": "integer"}, "case_number": STRING, "item_name": STRING,
            "deadline": {"type": "object", "properties": {
                "id": {"type": "integer"}, "name": STRING,
                "task_id": {"type": ["string", "null"], "description": "环节时限的任务 ID；办件期限为 null"},
                "due_date": NULLABLE_DATE,
                "provisional": {"type": "boolean", "description": "预计（按未公布的年度日历推算）"}}},
            "days": {"type": "integer", "description": "延期的工作日数"}, "reason": STRING,
            "status": {"enum": list(ExtensionStatus)}, "requested_by": STRING, "requested_at": DATE_TIME,
            "decided_by": NULLABLE_STRING, "decided_at": NULLABLE_DATE_TIME, "decision_note": NULLABLE_STRING,
        },
    },
    "ExtensionList": {"type": "object", "properties": {"extensions": {"type": "array", "items": _ref("Extension")}}},
    "AskExtension": {
        "type": "object", "required": ["days", "reason"],
        "properties": {
            "deadline_id": {"type": ["integer", "null"],
                            "description": "环节时限的期限编号；不填为办件期限（承诺办结日期）"},
            "days": {"type": "integer", "minimum": 1,
                     "description": "延期的工作日数；与已批准、待审批的合计不超过事项上限"
                                    "（max_extension_days，默认 10，《行政许可法》第四十二条）"},
            "reason": {"type": "string", "minLength": 1, "maxLength": 500, "description": "延期理由"},
        },
    },
    "DecideExtension": {
        "type": "object", "required": ["approve"],
        "properties": {"approve": {"type": "boolean", "description": "true 批准；false 不予批准"},
                       "note": {"type": ["string", "null"], "maxLength": 500,
                                "description": "审批意见；不予批准时必填"}},
    },
    "Supervision": {
        "type": "object",
        "properties": {
            "period": {"type": "object", "properties": {"start": {"type": "string", "format": "date"},
                                                        "end": {"type": "string", "format": "date"},
                                                        "preset": {"enum": list(desk.PRESETS)}}},
            "totals": {"type": "object", "properties": {"case": COUNTS, "step": COUNTS},
                       "description": "case：办件期限（承诺办结）；step：环节时限"},
            "by": {"type": "object", "description": "按 town（乡镇）、department（部门或岗位）、item（事项）、"
                                                    "handler（办理人，仅环节时限）分组",
                   "additionalProperties": {"type": "array", "items": {"type": "object", "properties": {
                       "key": NULLABLE_STRING, "label": STRING, "overdue": {"type": "integer"},
                       "counts": {"type": "object", "properties": {"case": COUNTS, "step": COUNTS}}}}}},
            "carded": {"type": "array", "description": "当前黄牌、红牌的办件期限和环节时限，红牌和逾期久的在前",
                       "items": {"type": "object", "properties": {
                           "case_id": {"type": "integer"}, "case_number": STRING, "item_name": STRING, "town": STRING,
                           "deadline": STRING, "kind": {"enum": ["case", "step"]},
                           "card": {"enum": ["yellow", "red"]}, "due_date": NULLABLE_DATE,
                           "provisional": {"type": "boolean"}, "days_overdue": {"type": "integer"},
                           "holders": {"type": "array", "items": {"type": "object", "properties": {
                               "name": NULLABLE_STRING, "post": STRING}}}}}},
        },
    },
})
EXTENSION_ID = {"name": "extension_id", "in": "path", "required": True, "schema": {"type": "integer"},
                "description": "延期申请 ID"}

PATHS: dict[str, Any] = {
    "/openapi.json": {"get": {
        "summary": "本文档", "operationId": "openapi", "security": [], "tags": ["meta"],
        "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 文档")},
    }},
    "/orgs": {"get": {
        "summary": "行政区划树（县 → 乡镇 → 村）", "operationId": "listOrgs", "tags": ["reference"],
        "responses": {"200": _json({"type": "object", "properties": {
            "orgs": {"type": "array", "items": _ref("OrgNode")}}}, "根节点列表"), "401": UNAUTHORIZED},
    }},
    "/items": {"get": {
        "summary": "事项目录及当前版本的办事指南和申请表", "operationId": "listItems", "tags": ["reference"],
        "responses": {"200": _json({"type": "object", "properties": {
            "items": {"type": "array", "items": _ref("Item")}}}, "事项列表"), "401": UNAUTHORIZED},
    }},
    "/cases": {"get": {
        "summary": "本辖区的办件列表，按受理时间从新到旧", "operationId": "listCases", "tags": ["cases"],
        "parameters": [
            CARD_FILTER,
            {"name": "q", "in": "query", "required": False, "schema": STRING,
             "description": "按办件编号、申请人姓名或身份证号码精确查找"},
            {"name": "status", "in": "query", "required": False, "schema": {"enum": list(CaseStatus)},
             "description": "running：办理中；completed：已办结；supplement：待补正；received：收件待审；"
                            "not_accepted：不予受理；不填为全部"},
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}},
        ],
        "responses": {"200": _json(_ref("CaseList"), "办件（身份证号脱敏，不含待办任务）"), "400": BAD_REQUEST,
                      "401": UNAUTHORIZED},
    }, "post": {
        "summary": "受理申请，创建办件", "operationId": "startCase", "tags": ["cases"],
        "description": "由村代办员（本村）或乡镇便民服务中心窗口人员（本乡镇所辖村）受理。",
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("StartCase")}}},
        "responses": {
            "201": {**_json(_ref("Case"), "已受理；Location 头指向新办件"),
                    "headers": {"Location": {"schema": STRING}}},
            "400": UNDECLARED_FIELDS, "401": UNAUTHORIZED,
            "403": _error("调用者不是代办员或窗口人员，或该村（社区）不在其辖区内"),
            "404": _error("事项编码或村行政区划代码不存在"),
            "409": _error("同一申请人已有本事项未办结的办件（消息给出其编号和状态）；"
                          "允许重复申请的事项须 confirm_repeat"),
            "422": _error("申请人信息（姓名、身份证号码、电话）、申请表数据或材料清单有误，"
                          "或材料不齐全却要受理、不予受理未写理由和依据"),
        },
    }},
    "/cases/{case_id}/window": {"post": {
        "summary": "待补正或收件待审的办件再次核对材料：受理、一次性告知补正（只能一次）或不予受理",
        "operationId": "examineCase", "tags": ["cases"], "parameters": [CASE_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("IntakeIn")}}},
        "responses": {"200": _json(_ref("Case"), "办件（受理后含待办任务）"), "400": BAD_REQUEST,
                      "401": UNAUTHORIZED, "403": FORBIDDEN, "404": NOT_FOUND,
                      "409": _error("办件不在待补正或收件待审状态，或一次性告知书已出具过"), "422": UNPROCESSABLE},
    }},
    "/cases/{case_id}/intake": {"get": {
        "summary": "办件的窗口收件记录：材料清单、一次性告知、第三十二条期限、不予受理理由",
        "operationId": "getCaseIntake", "tags": ["cases"], "parameters": [CASE_ID],
        "responses": {"200": _json(_ref("CaseIntake"), "收件记录"), "401": UNAUTHORIZED, "404": NOT_FOUND},
    }},
    "/cases/{case_id}": {"get": {
        "summary": "办件详情：申请人（身份证号脱敏）、期限、已提交数据、流程计算结果、待办任务",
        "operationId": "getCase", "tags": ["cases"], "parameters": [CASE_ID],
        "responses": {"200": _json(_ref("CaseDetail"), "办件"), "401": UNAUTHORIZED, "404": NOT_FOUND},
    }},
    "/cases/{case_id}/events": {"get": {
        "summary": "办件历史（只增不改，哈希链可验证）", "operationId": "listCaseEvents", "tags": ["cases"],
        "parameters": [CASE_ID],
        "responses": {"200": _json(_ref("EventList"), "按 seq 排序的历史记录"), "401": UNAUTHORIZED,
                      "404": NOT_FOUND},
    }},
    "/cases/{case_id}/export": {"get": {
        "summary": "导出办件全程记录（含哈希）：保存为文件后，用 python3 links.py 文件.json 离线核验",
        "description": "事件按记录时的原样导出（身份证号码、电话号码未遮盖，否则哈希无法核验）。不经办此件的人须给出 "
                       "reason，导出记入个人信息查看记录和系统记录。",
        "operationId": "exportCase", "tags": ["cases"], "parameters": [
            CASE_ID,
            {"name": "reason", "in": "query", "required": False,
             "schema": {"enum": list(privacy.REASONS)},
             "description": "不经办此件时必填：导出理由"},
            {"name": "note", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 200},
             "description": "理由为“其他”时必填"},
        ],
        "responses": {"200": _json(_ref("CaseExport"), "导出文件的内容（与网页“导出记录（JSON）”相同）"),
                      "401": UNAUTHORIZED, "403": FORBIDDEN, "404": NOT_FOUND, "422": UNPROCESSABLE},
    }},
    "/cases/{case_id}/documents": {"get": {
        "summary": "办件的文书（收件回执单、补正告知书、不予受理通知书、准予/不予批准决定书），按出具先后排序",
        "description": "facts 为出具时的内容（其 SHA-256 记入办件历史）；不经办此件的人看到的号码已遮盖。",
        "operationId": "listCaseDocuments", "tags": ["cases"], "parameters": [CASE_ID],
        "responses": {"200": _json(_ref("DocumentList"), "文书"), "401": UNAUTHORIZED, "404": NOT_FOUND},
    }},
    "/cases/{case_id}/documents/{document_id}.pdf": {"get": {
        "summary": "文书的 PDF（A4，首次下载时生成并缓存）",
        "description": "经办此件的人得到申请人身份证号码完整的文书（即交给申请人的一份），其他人得到遮盖的一份。",
        "operationId": "getCaseDocumentPdf", "tags": ["cases"], "parameters": [CASE_ID, DOCUMENT_ID],
        "responses": {"200": {"description": "PDF 文件",
                              "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                      "401": UNAUTHORIZED, "404": NOT_FOUND},
    }},
    "/tasks": {"get": {
        "summary": "任务列表，按承诺办结日期排序", "operationId": "listTasks", "tags": ["tasks"],
        "parameters": [
            CARD_FILTER,
            {"name": "scope", "in": "query", "required": False,
             "schema": {"enum": list(inbox.SCOPES), "default": "mine"},
             "description": "mine：本人认领的任务（含不在岗 A 岗同事的任务）；post：本岗位尚未认领的任务；"
                            "cover：本人代岗的岗位的任务；delegated（委派中）：本人委派给同事、尚未交回的任务，"
                            "assignee 为受委派人，另有 delegated_at（委派时间）"},
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}},
            {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0},
             "description": "跳过的任务数（分页：返回不足 limit 条即为最后一页）"},
            {"name": "q", "in": "query", "required": False, "schema": STRING,
             "description": "申请人姓名或办件编号的任意一段，或身份证号码的末几位"},
            {"name": "item", "in": "query", "required": False, "schema": STRING, "description": "事项编码"},
            {"name": "village", "in": "query", "required": False, "schema": STRING, "description": "村（社区）的 ID"},
        ],
        "responses": {"200": _json(_ref("TaskList"), "任务"), "400": BAD_REQUEST, "401": UNAUTHORIZED,
                      "422": _error("查询条件有误：村的 ID 无效或查询内容过长")},
    }},
    "/tasks/{task_id}": {"get": {
        "summary": "任务详情，含该环节表单的 JSON Schema", "operationId": "getTask", "tags": ["tasks"],
        "parameters": [TASK_ID],
        "responses": {"200": _json(_ref("TaskDetail"), "任务"), "401": UNAUTHORIZED, "404": NOT_FOUND},
    }},
    "/tasks/{task_id}/claim": {"post": {
        "summary": "认领任务", "operationId": "claimTask", "tags": ["tasks"], "parameters": [TASK_ID],
        "responses": {"200": _json(_ref("Task"), "已认领的任务"), "401": UNAUTHORIZED, "403": FORBIDDEN,
                      "404": NOT_FOUND, "409": CONFLICT},
    }},
    "/tasks/{task_id}/release": {"post": {
        "summary": "释放（取消认领，任务回到岗位待认领）", "operationId": "releaseTask", "tags": ["tasks"],
        "parameters": [TASK_ID],
        "responses": {"200": _json(_ref("Task"), "已释放的任务"), "401": UNAUTHORIZED, "403": FORBIDDEN,
                      "404": NOT_FOUND, "409": CONFLICT},
    }},
    "/tasks/{task_id}/complete": {"post": {
        "summary": "提交环节表单，办理任务", "operationId": "completeTask", "tags": ["tasks"],
        "parameters": [TASK_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("CompleteTask")}}},
        "responses": {"200": _json(_ref("Case"), "办理后的办件（含新的待办任务）"),
                      "400": UNDECLARED_FIELDS,
                      "401": UNAUTHORIZED, "403": FORBIDDEN, "404": NOT_FOUND,
                      "202": _json(_ref("StepHeld"), "已提交，但之后的流程出错：填写内容已保存为异常办件并通知"
                                   "系统管理员，任务仍待办理（可等待修复，或重新提交）"),
                      "409": _error("任务已由他人认领，或已由某人于某时办理完毕"),
                      "422": _error("表单数据不符合该环节的 JSON Schema")},
    }},
    "/cases/{case_id}/retry": {"post": {
        "summary": "重试出错环节（仅系统管理员）：按异常办件保存的填写内容，以原办理人的名义重新办理",
        "operationId": "retryCaseStep", "tags": ["incidents"], "parameters": [CASE_ID],
        "responses": {"200": _json(_ref("Case"), "重试成功，办件继续办理"), "401": UNAUTHORIZED,
                      "403": _error("调用者不是系统管理员"), "404": NOT_FOUND,
                      "409": _error("办件没有待重试的出错环节，或已办结、已撤销"),
                      "422": _error("重试仍然出错（异常办件保留，失败次数加一），或保存的内容不符合当前版本的表单")},
    }},
    "/cases/{case_id}/migrate": {"post": {
        "summary": "将办件迁移到其事项的更新版本（仅系统管理员）",
        "description": "当前所在的每个环节（待办任务、等待中的定时器）按 mapping 对应到新版本的元素，默认对应相同 ID。"
                       "迁移前逐项检查：新版本须有该元素、类型相同、待办环节的表单文件存在，已办环节在新版本中仍存在；"
                       "任一不符则不作任何改动（422，details 逐条列出）。成功后记入办件历史和系统事件链。",
        "operationId": "migrateCase", "tags": ["incidents"], "parameters": [CASE_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("MigrateCase")}}},
        "responses": {"200": _json(_ref("Case"), "已迁移的办件"), "401": UNAUTHORIZED,
                      "403": _error("调用者不是系统管理员"), "404": _error("办件或目标版本不存在"),
                      "409": _error("办件已办结或已撤销"),
                      "422": _error("目标版本不是本事项更新的版本，或对应关系不成立（details 逐条列出）")},
    }},
    "/cases/{case_id}/cancel": {"post": {
        "summary": "撤销办件（仅系统管理员）：须填写原因；待办任务、定时器和期限一并撤销，记入办件历史和系统事件链",
        "operationId": "cancelCase", "tags": ["incidents"], "parameters": [CASE_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["reason"],
            "properties": {"reason": {"type": "string", "maxLength": 500, "description": "撤销原因"}}}}}},
        "responses": {"200": _json(_ref("Case"), "已撤销的办件"), "401": UNAUTHORIZED,
                      "403": _error("调用者不是系统管理员"), "404": NOT_FOUND,
                      "409": _error("办件已办结或已撤销"), "422": _error("未填写原因或原因过长")},
    }},
    "/cases/{case_id}/reveal": {"post": {
        "summary": "查看完整个人信息：未经办该办件的人员（审计、电子监察、其他岗位）看到的身份证号码和电话号码"
                   "已隐去部分，须选择理由才能查看完整值；每次查看记入 data_reveal 和系统事件链（data_revealed）",
        "description": "依据个人信息保护法第六条（最小必要）、第五十一条。field 为 applicant_id_number、"
                       "applicant_phone，或申请表中的字段路径 application.<字段>[.<序号>.<字段>]"
                       "（如 application.members.0.id_number），且该值须为身份证号码或电话号码。",
        "operationId": "revealPersonalData", "tags": ["cases"], "parameters": [CASE_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["field", "reason"],
            "properties": {
                "field": {"type": "string", "maxLength": 200, "description": "要查看的字段"},
                "reason": {"enum": list(privacy.REASONS),
                           "description": "查看理由"},
                "note": {"type": "string", "maxLength": 200, "description": "具体理由；reason 为“其他”时必填"}}}}}},
        "responses": {
            "200": _json({"type": "object", "required": ["case_id", "field", "kind", "value"], "properties": {
                "case_id": {"type": "integer"}, "field": STRING,
                "kind": {"enum": ["id_number", "phone"], "description": "身份证号码或电话号码"},
                "value": {"description": "完整的值"}}}, "完整的值（本次查看已记录）"),
            "401": UNAUTHORIZED, "403": _error("办件不在调用者的辖区内"),
            "404": _error("办件不存在，或其中没有该项个人信息"),
            "422": _error("未指明字段、未选择理由、理由不在列表中，或选择“其他”时未填写具体理由"),
        },
    }},
    "/procedures": {"post": {
        "summary": "部署流程（仅系统管理员）：办事指南、BPMN 流程图和表单，或整个流程文件夹",
        "operationId": "deployProcedure",
        "tags": ["procedures"],
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": _ref("DeployUpload")}}},
        "responses": {
            "201": _json(_ref("DeployResult"), "已部署新版本"),
            "200": _json(_ref("DeployResult"), "与当前版本完全相同，未新建版本"),
            "400": _error("不是 multipart/form-data 上传"), "401": UNAUTHORIZED,
            "403": _error("调用者不是系统管理员"),
            "413": _error("请求体超过服务器上限"),
            "422": _error("部署被拒绝，未保存任何内容；problems 逐条给出文件和元素：XML 不合法、含 DOCTYPE/外部实体、"
                          "流程图超过上限、缺少办事指南或其字段、泳道不是已知角色、缺少表单文件、表单 Schema 无效、"
                          "脚本或条件不安全、定时器不是有效的 ISO 8601、图形指向不存在的元素等"),
        },
    }},
    "/notifications": {"get": {
        "summary": "本人的提醒，新的在前", "operationId": "listNotifications", "tags": ["notifications"],
        "parameters": [
            {"name": "unread", "in": "query", "required": False, "schema": {"enum": ["1"]},
             "description": "为 1 时只列未读"},
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}},
        ],
        "responses": {"200": _json(_ref("NotificationList"), "提醒及未读条数"), "401": UNAUTHORIZED},
    }},
    "/notifications/{notification_id}/read": {"post": {
        "summary": "将本人的一条提醒标为已读（已读的不变）", "operationId": "markNotificationRead",
        "tags": ["notifications"],
        "parameters": [{"name": "notification_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "responses": {"200": _json({"type": "object", "properties": {"marked": {"type": "integer"},
                                                                     "unread": {"type": "integer"}}}, "已标为已读"),
                      "401": UNAUTHORIZED, "404": _error("提醒不存在，或不是调用者的")},
    }},
    "/population/lookup": {"post": {
        "summary": "人口库查询：按身份证号码查询户籍人口库中的家庭成员，用于受理时填写申请表",
        "operationId": "lookUpHousehold", "tags": ["window"],
        "description": "只有可受理办件的人员（村代办员、便民服务中心窗口）可查询；只有身份证号码发往人口库，"
                       "每次有结果的查询都记入系统审计链（号码脱敏）。返回的身份证号码均已脱敏。",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["id_number"],
            "properties": {"id_number": {"type": "string", "description": "18 位居民身份证号码"}}}}}},
        "responses": {"200": _json({"type": "object", "properties": {
            "household_number": STRING, "address": STRING, "applicant_name": NULLABLE_STRING,
            "members": {"type": "array", "items": {"type": "object", "properties": {
                "name": STRING, "relation": STRING, "gender": STRING, "birth_date": STRING,
                "id_number": {"type": "string", "description": "已脱敏"}}}}}}, "户籍信息"),
            "401": UNAUTHORIZED, "403": FORBIDDEN, "404": _error("人口库中没有以该号码登记的人员"),
            "422": UNPROCESSABLE, "502": _error("人口库暂时无法访问（超时、拒绝连接、错误应答）或应答格式不正确"),
            "503": _error("未配置人口库（BIANMIN_POPULATION_URL）")},
    }},
    "/notifications/settings": {"get": {
        "summary": "本人的提醒设置：手机号码、电子邮箱、各类提醒的发送方式，以及今天已发送的条数",
        "operationId": "getNotificationSettings", "tags": ["notifications"],
        "responses": {"200": _json(_ref("NotificationSettings"), "提醒设置"), "401": UNAUTHORIZED},
    }, "put": {
        "summary": "修改本人的提醒设置", "operationId": "setNotificationSettings", "tags": ["notifications"],
        "description": "选了短信须填手机号码，选了邮件须填电子邮箱；有误时整体不保存（422，fields 指出字段）。"
                       "提醒总会出现在系统的提醒列表中，这里只决定哪些同时发到手机或邮箱；每人每天发送条数有上限。",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "properties": {
                "phone": {"type": "string", "description": "11 位手机号码，可为空"},
                "email": {"type": "string", "description": "电子邮箱，可为空"},
                "channels": CHANNELS}}}}},
        "responses": {"200": _json(_ref("NotificationSettings"), "保存后的提醒设置"), "401": UNAUTHORIZED,
                      "422": _error("号码或邮箱有误，或选了发送方式却没有填写")},
    }},
    "/notifications/read-all": {"post": {
        "summary": "将本人的全部提醒标为已读", "operationId": "markAllNotificationsRead", "tags": ["notifications"],
        "responses": {"200": _json({"type": "object", "properties": {"marked": {"type": "integer"},
                                                                     "unread": {"type": "integer"}}}, "已标为已读"),
                      "401": UNAUTHORIZED},
    }},
    "/cases/{case_id}/extensions": {"get": {
        "summary": "办件的全部延期申请及审批结果", "operationId": "listCaseExtensions", "tags": ["extensions"],
        "parameters": [CASE_ID],
        "responses": {"200": _json(_ref("ExtensionList"), "按申请先后排序"), "401": UNAUTHORIZED, "404": NOT_FOUND},
    }, "post": {
        "summary": "申请延期", "operationId": "askExtension", "tags": ["extensions"],
        "description": "由办件当前环节的岗位人员或受理窗口申请；通知有权审批的人员"
                       "（办件期限和村、乡镇环节为乡镇分管领导，县级环节为该县级部门）。",
        "parameters": [CASE_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("AskExtension")}}},
        "responses": {"201": _json(_ref("Extension"), "已提交，待审批"), "401": UNAUTHORIZED,
                      "403": _error("调用者不是办件当前环节的岗位人员或受理窗口"),
                      "404": _error("办件不存在或不在辖区内，或该办件没有这一期限"),
                      "409": _error("该期限已结束"),
                      "422": _error("理由为空或过长、天数不是正整数，或超过延期上限（消息给出还可申请的天数）")},
    }},
    "/extensions": {"get": {
        "summary": "待调用者审批的延期申请，先申请的在前", "operationId": "listPendingExtensions",
        "tags": ["extensions"],
        "parameters": [{"name": "limit", "in": "query", "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}}],
        "responses": {"200": _json(_ref("ExtensionList"), "待审批的延期申请"), "400": BAD_REQUEST,
                      "401": UNAUTHORIZED},
    }},
    "/extensions/{extension_id}/decision": {"post": {
        "summary": "审批延期申请：批准则期限按工作日顺延并记入办件历史", "operationId": "decideExtension",
        "tags": ["extensions"], "parameters": [EXTENSION_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("DecideExtension")}}},
        "responses": {"200": _json(_ref("Extension"), "审批后的延期申请"), "401": UNAUTHORIZED,
                      "403": _error("调用者无权审批该延期申请"), "404": _error("延期申请不存在"),
                      "409": _error("该延期申请已审批过（消息写明由谁、何时、结果）"),
                      "422": _error("approve 不是布尔值，或不予批准而未写理由，或意见过长")},
    }},
    "/supervision": {"get": {
        "summary": "电子监察（电子监察、审计、系统管理员）：本辖区期限的在办、黄牌、红牌、逾期办结统计和黄红牌清单",
        "operationId": "getSupervision", "tags": ["supervision"],
        "parameters": [
            {"name": "period", "in": "query", "required": False,
             "schema": {"enum": list(desk.PRESETS), "default": "this_month"},
             "description": "this_month 本月、last_month 上月、this_year 本年、range 自定义（需 from、to）"},
            {"name": "from", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}},
            {"name": "to", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}},
            {"name": "town", "in": "query", "required": False, "schema": STRING, "description": "乡镇的 ID"},
            {"name": "item", "in": "query", "required": False, "schema": STRING, "description": "事项编码"},
            {"name": "card", "in": "query", "required": False, "schema": {"enum": ["", "yellow", "red"]},
             "description": "清单只列该牌色"},
        ],
        "responses": {"200": _json(_ref("Supervision"), "统计和清单"), "401": UNAUTHORIZED,
                      "403": _error("调用者不是电子监察、审计或系统管理员"),
                      "422": _error("统计期间、日期、乡镇或牌色参数无效")},
    }},
    "/incidents": {"get": {
        "summary": "异常办件（仅系统管理员）：定时器到期后流程出错的办件，已停止重试的在前",
        "operationId": "listIncidents", "tags": ["incidents"],
        "description": "每个办件单独处理：出错的办件记为异常，按 BIANMIN_INCIDENT_RETRY_SECONDS 起翻倍的间隔自动重试，"
                       "失败 BIANMIN_INCIDENT_MAX_ATTEMPTS 次后停止；之后成功推进即自动关闭，不再列出。",
        "parameters": [{"name": "limit", "in": "query", "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}}],
        "responses": {"200": _json({"type": "object", "properties": {
            "incidents": {"type": "array", "items": _ref("Incident")}}}, "未关闭的异常办件"),
            "400": BAD_REQUEST, "401": UNAUTHORIZED, "403": _error("调用者不是系统管理员")},
    }},
}

AUDIT_FORBIDDEN = _error("调用者不是审计人员或电子监察人员")
PATHS["/audit/cases"] = {"get": {
    "summary": "审计查询（审计、电子监察）：本辖区的办件按条件查找，按受理时间从新到旧，每页 50 件",
    "operationId": "auditCases", "tags": ["audit"],
    "parameters": [
        {"name": "number", "in": "query", "required": False, "schema": STRING, "description": "办件编号的任意一段"},
        {"name": "applicant", "in": "query", "required": False, "schema": STRING,
         "description": "申请人姓名的任意一段"},
        {"name": "item", "in": "query", "required": False, "schema": STRING, "description": "事项编码"},
        {"name": "village", "in": "query", "required": False, "schema": STRING, "description": "村（社区）的 ID"},
        {"name": "from", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
         "description": "受理日期起（含）"},
        {"name": "to", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
         "description": "受理日期止（含）"},
        {"name": "handler", "in": "query", "required": False, "schema": STRING,
         "description": "经办人的用户名：办件历史中有其办理记录的"},
        {"name": "result", "in": "query", "required": False, "schema": {"enum": list(audit_desk.RESULTS)},
         "description": "running 办理中、approved 准予、rejected 不予、completed 其他办结、cancelled 已撤销"},
        {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1},
         "description": "页码，超过总页数时返回最后一页"},
    ],
    "responses": {"200": _json(_ref("AuditCaseList"), "一页办件（身份证号脱敏）"), "401": UNAUTHORIZED,
                  "403": AUDIT_FORBIDDEN,
                  "422": _error("查询条件有误：日期格式、页码、村或办理结果无效（fields 按参数归类）")},
}}
# The ledger's search: the auditor's desk's parameters, and the one box and the case list's status and card.
LEDGER_PARAMETERS = [
    {"name": "q", "in": "query", "required": False, "schema": STRING,
     "description": "申请人姓名或办件编号的任意一段，或身份证号码的末几位"},
    *PATHS["/audit/cases"]["get"]["parameters"][:-1],
    {"name": "status", "in": "query", "required": False, "schema": {"enum": list(audit_desk.STATUSES)},
     "description": "办件状态：running 办理中、completed 已办结、cancelled 已撤销"},
    {"name": "card", "in": "query", "required": False, "schema": {"enum": ["yellow", "red"]},
     "description": "当前警示：yellow 即将超期、red 已超期"},
]
LEDGER_PROBLEM = _error("查询条件有误：日期格式、页码、村、状态、警示或办理结果无效（fields 按参数归类）")
PATHS["/ledger"] = {"get": {
    "summary": "办件台账：本辖区的办件按条件查找，按受理时间从新到旧，每页 50 件，附总数",
    "description": "列表中身份证号码、电话号码一律脱敏（完整号码见办件详情，仅经办人可见）。",
    "operationId": "ledger", "tags": ["cases"],
    "parameters": [*LEDGER_PARAMETERS, PATHS["/audit/cases"]["get"]["parameters"][-1]],
    "responses": {"200": _json(_ref("Ledger"), "一页台账"), "401": UNAUTHORIZED, "422": LEDGER_PROBLEM},
}}
PATHS["/ledger/export"] = {"get": {
    "summary": "导出台账（Excel 或 CSV）：全部符合条件的办件，不分页",
    "description": "调用者经办的办件显示完整的身份证号码和电话号码（与办件详情相同），其余脱敏。"
                   "末列“满意度”留待好差评。",
    "operationId": "exportLedger", "tags": ["cases"],
    "parameters": [{"name": "format", "in": "query", "required": False, "schema": {"enum": ["xlsx", "csv"]},
                    "description": "文件格式，默认 xlsx"}, *LEDGER_PARAMETERS],
    "responses": {"200": {"description": "台账文件（CSV 为带 BOM 的 UTF-8）", "content": {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
            "schema": {"type": "string", "format": "binary"}},
        "text/csv": {"schema": {"type": "string"}}}},
        "400": BAD_REQUEST, "401": UNAUTHORIZED, "422": LEDGER_PROBLEM},
}}
SCHEMAS["Ledger"] = {"type": "object", "properties": {
    "total": {"type": "integer", "description": "符合条件的办件总数"}, "page": {"type": "integer"},
    "pages": {"type": "integer"}, "page_size": {"type": "integer"},
    "cases": {"type": "array", "items": _ref("LedgerLine")}}}
SCHEMAS["LedgerLine"] = {"type": "object", "properties": {
    "id": {"type": "integer"}, "case_number": STRING, "item_code": STRING, "item_name": STRING,
    "applicant": {"type": "object", "properties": {"name": STRING, "id_number": STRING, "phone": STRING}},
    "village": STRING, "handler": {"type": "string", "description": "经办人：最近一个环节的办理人，否则受理人"},
    "accepted_at": NULLABLE_DATE_TIME, "promised_date": NULLABLE_DATE, "promised_provisional": {"type": "boolean"},
    "completed_at": NULLABLE_DATE_TIME, "status": {"enum": list(audit_desk.STATUSES)},
    "result": NULLABLE_STRING,
    "timeliness": {"enum": ["on_time", "late", "running", "overdue", None],
                   "description": "on_time 按时办结、late 逾期办结、running 未到期、overdue 已超期；已撤销为 null"},
    "card": {"enum": ["", "yellow", "red"]},
    "rating": {"enum": ["非常满意", "满意", "基本满意", "不满意", "非常不满意", None],
               "description": "申请人的好差评；未评价为 null"}}}
PATHS["/cases/{case_id}/verify"] = {"post": {
    "summary": "核验办件记录（审计、电子监察）：逐条重新计算哈希，指出每处断裂",
    "operationId": "verifyCase", "tags": ["audit"], "parameters": [CASE_ID],
    "responses": {"200": _json(_ref("Verification"), "核验结果；不改动任何数据"), "401": UNAUTHORIZED,
                  "403": AUDIT_FORBIDDEN, "404": NOT_FOUND},
}}
SCHEMAS["AuditCaseList"] = {"type": "object", "properties": {
    "total": {"type": "integer", "description": "符合条件的办件总数"}, "page": {"type": "integer"},
    "pages": {"type": "integer"}, "page_size": {"type": "integer"},
    "cases": {"type": "array", "items": _ref("CaseSummary")}}}
SCHEMAS["Verification"] = {"type": "object", "properties": {
    "case_id": {"type": "integer"}, "case_number": STRING,
    "intact": {"type": "boolean", "description": "记录完整：未被改动、删除、插入或调换顺序"},
    "event_count": {"type": "integer", "description": "办件记录的末条序号（办件上记录的条数）"},
    "last_event_hash": {"type": "string", "description": "办件上记录的末条哈希"},
    "problems": {"type": "array", "items": _ref("ChainProblem"),
                 "description": "每处断裂一条，按 seq 排序；完整时为空"}}}

# 全程代办 (委托 → 传递 → 回交 → 签收) and 首问负责 enquiries (便民服务事项登记表).
PROXY_KINDS = ["entrusted", "handed_over", "returned", "received"]
ENQUIRY_ID = {"name": "enquiry_id", "in": "path", "required": True, "schema": {"type": "integer"},
              "description": "咨询登记编号"}
LIMIT = {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}}
SCHEMAS["ProxyStep"] = {"type": "object", "properties": {
    "id": {"type": "integer"}, "kind": {"enum": PROXY_KINDS}, "name": {"enum": ["委托", "传递", "回交", "签收"]},
    "happened_at": DATE_TIME, "recorded_at": DATE_TIME, "recorded_by": _ref("Person"),
    "details": {"type": "object", "additionalProperties": STRING,
                "description": "委托：principal 委托人、relation 与申请人关系、matter 委托事项、phone 联系电话"
                               "（不办理该办件的人看到的是遮盖后的号码）；"
                               "传递：office 递交单位（窗口）、method 递交方式、carrier 递交人；"
                               "回交：handed_back 回交的批件、证照或决定书、method 回交方式；"
                               "签收：signed_by 签收人、relation"}}}
SCHEMAS["ProxyRecord"] = {"type": "object", "properties": {
    "first_contact": _ref("Person"),
    "steps": {"type": "array", "items": _ref("ProxyStep"), "description": "按发生时间排序"},
    "allowed": {"type": "array", "items": {"enum": PROXY_KINDS},
                "description": "调用者现在可以登记的环节（只有申请人所在村的代办员有）"}}}
SCHEMAS["RecordProxyStep"] = {"type": "object", "required": ["kind"], "properties": {
    "kind": {"enum": PROXY_KINDS, "description": "entrusted 委托、handed_over 传递、returned 回交、received 签收"},
    "at": {"type": ["string", "null"], "description": "发生时间，北京时间 YYYY-MM-DDTHH:MM 或带时区的 ISO 8601；"
                                                      "不填为现在，不得晚于现在或早于上一环节"},
    "principal": {"type": "string", "maxLength": 200, "description": "委托人；不填为申请人本人"},
    "relation": {"type": "string", "maxLength": 200, "description": "委托人或签收人不是申请人本人时必填"},
    "matter": {"type": "string", "maxLength": 200, "description": "委托事项（委托必填）"},
    "phone": {"type": "string", "description": "委托人联系电话（委托必填）"},
    "office": {"type": "string", "maxLength": 200, "description": "递交单位（窗口）（传递必填）"},
    "method": {"type": "string", "maxLength": 200, "description": "递交方式（传递必填）或回交方式"},
    "carrier": {"type": "string", "maxLength": 200, "description": "递交人；不填为调用者"},
    "handed_back": {"type": "string", "maxLength": 200, "description": "回交的批件、证照或决定书（回交必填）"},
    "signed_by": {"type": "string", "maxLength": 200, "description": "签收人；不填为申请人本人"}}}
SCHEMAS["AwaitingReturn"] = {"type": "object", "properties": {"cases": {"type": "array", "items": {
    "type": "object", "properties": {"id": {"type": "integer"}, "case_number": STRING, "item_name": STRING,
                                     "applicant_name": STRING, "completed_at": DATE_TIME,
                                     "result": NULLABLE_STRING}}}}}
SCHEMAS["Enquiry"] = {"type": "object", "properties": {
    "id": {"type": "integer"}, "registered_at": DATE_TIME, "status": {"enum": ["open", "transferred", "answered"],
                                                                      "description": "办理中、已转办待接办、已答复"},
    "person_name": STRING, "contact": {"type": "string", "description": "不负责该咨询的人看到的是遮盖后的号码"},
    "village": _ref("Place"), "matter": STRING, "first_contact": _ref("Person"),
    "owner": {**_ref("Person"), "description": "负责人；转办后对方接办前为 null"},
    "post": {"type": "object", "properties": {"role_code": STRING, "role_name": STRING, "org": _ref("Place")}},
    "answer_method": NULLABLE_STRING, "answer": NULLABLE_STRING, "answered_by": _ref("Person"),
    "answered_at": NULLABLE_DATE_TIME,
    "trail": {"type": "array", "items": ANY_OBJECT, "description": "登记、转办、接办、答复，各有 at、by、action"}}}
SCHEMAS["EnquiryList"] = {"type": "object", "properties": {"enquiries": {"type": "array", "items": _ref("Enquiry")}}}
ANSWER_METHOD = {"enum": ["当面解答", "电话解答", "引导办理", "受理申请"]}
SCHEMAS["RegisterEnquiry"] = {"type": "object", "required": ["person_name", "contact", "village", "matter"],
                              "properties": {
    "person_name": {"type": "string", "maxLength": 30}, "contact": {"type": "string", "description": "联系电话"},
    "village": {"type": "string", "description": "来访人所在村（社区）的行政区划代码"},
    "matter": {"type": "string", "maxLength": 1000, "description": "咨询或办理事项"},
    "answer_method": {**ANSWER_METHOD, "description": "当场答复时填写"},
    "answer": {"type": "string", "maxLength": 1000, "description": "当场答复时填写"}}}
SCHEMAS["AnswerEnquiry"] = {"type": "object", "required": ["answer_method", "answer"], "properties": {
    "answer_method": ANSWER_METHOD, "answer": {"type": "string", "minLength": 1, "maxLength": 1000}}}
SCHEMAS["TransferEnquiry"] = {"type": "object", "required": ["role_code", "org_id"], "properties": {
    "role_code": {"type": "string", "description": "接收岗位的角色代码"},
    "org_id": {"type": "integer", "description": "接收岗位所在单位（来访人所在村、其乡镇或县）的编号"},
    "note": {"type": ["string", "null"], "maxLength": 1000, "description": "转办说明"}}}
ENQUIRY_409 = _error("该咨询已答复，或已转办待对方接办，或已有负责人无需接办")
PATHS["/cases/{case_id}/proxy"] = {"get": {
    "summary": "办件的首问责任人和代办记录（委托、传递、回交、签收）", "operationId": "getCaseProxy",
    "tags": ["window"], "parameters": [CASE_ID],
    "responses": {"200": _json(_ref("ProxyRecord"), "代办记录"), "401": UNAUTHORIZED, "404": NOT_FOUND},
}, "post": {
    "summary": "登记一个代办环节", "operationId": "recordProxyStep", "tags": ["window"],
    "description": "只有申请人所在村（社区）的代办员可以登记，并记入办件历史。顺序：委托在先；"
                   "传递在委托之后、办结之前；回交在办件办结之后；签收在回交之后。",
    "parameters": [CASE_ID],
    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("RecordProxyStep")}}},
    "responses": {"201": _json(_ref("ProxyStep"), "已登记"), "401": UNAUTHORIZED,
                  "403": _error("调用者不是申请人所在村（社区）的代办员"), "404": NOT_FOUND,
                  "409": _error("顺序不对（例如尚未委托、尚未办结、尚未回交）或该环节已登记"),
                  "422": _error("字段缺失或有误，或时间晚于现在、早于上一环节")},
}}
PATHS["/proxy/awaiting-return"] = {"get": {
    "summary": "待回交：调用者所在村的代办办件中已办结、尚未回交申请人的", "operationId": "listAwaitingReturn",
    "tags": ["window"], "parameters": [LIMIT],
    "responses": {"200": _json(_ref("AwaitingReturn"), "先办结的在前"), "401": UNAUTHORIZED},
}}
PATHS["/enquiries"] = {"get": {
    "summary": "咨询登记：我负责的、转到本岗位待接办的，或本辖区的登记表", "operationId": "listEnquiries",
    "tags": ["window"],
    "parameters": [{"name": "scope", "in": "query", "required": False,
                    "schema": {"enum": ["mine", "post", "place"], "default": "mine"},
                    "description": "mine 我负责且未答复的；post 转到本岗位待接办的；place 本辖区全部及我登记、负责的"},
                   LIMIT],
    "responses": {"200": _json(_ref("EnquiryList"), "新登记的在前"), "401": UNAUTHORIZED},
}, "post": {
    "summary": "登记来访、来电（便民服务事项登记表）：登记人首问负责", "operationId": "registerEnquiry",
    "tags": ["window"],
    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("RegisterEnquiry")}}},
    "responses": {"201": _json(_ref("Enquiry"), "已登记"), "401": UNAUTHORIZED,
                  "403": _error("电子监察、审计和系统管理员不登记咨询"),
                  "422": _error("字段缺失或有误，或村（社区）不在调用者辖区内")},
}}
PATHS["/enquiries/{enquiry_id}"] = {"get": {
    "summary": "一条咨询登记及其办理经过", "operationId": "getEnquiry", "tags": ["window"], "parameters": [ENQUIRY_ID],
    "responses": {"200": _json(_ref("Enquiry"), "咨询登记"), "401": UNAUTHORIZED, "404": NOT_FOUND},
}}
for _action, _summary, _body in (("answer", "答复（只有负责人）", "AnswerEnquiry"),
                                 ("transfer", "转办到来访人所在村、乡镇或县的岗位（只有负责人）", "TransferEnquiry"),
                                 ("take", "接办：接收岗位的在岗人员成为负责人", None)):
    PATHS[f"/enquiries/{{enquiry_id}}/{_action}"] = {"post": {
        "summary": _summary, "operationId": f"{_action}Enquiry", "tags": ["window"], "parameters": [ENQUIRY_ID],
        **({"requestBody": {"required": True, "content": {"application/json": {"schema": _ref(_body)}}}}
           if _body else {}),
        "responses": {"200": _json(_ref("Enquiry"), "办理后的咨询登记"), "401": UNAUTHORIZED,
                      "403": _error("调用者不是负责人，或不是接收岗位的在岗人员"), "404": NOT_FOUND,
                      "409": ENQUIRY_409, **({"422": _error("字段缺失或有误")} if _body else {})},
    }}
APPOINTMENT_ID = {"name": "booking_id", "in": "path", "required": True, "schema": {"type": "integer"},
                  "description": "预约的 ID"}
PATHS["/appointments"] = {
    "get": {
        "summary": "预约服务：某日调用者辖区内的预约（村：本村的上门服务；乡镇：本镇窗口和各村上门服务；县：全县），"
                   "含预约人姓名和电话",
        "operationId": "listAppointments", "tags": ["appointments"],
        "parameters": [{"name": "day", "in": "query", "required": False,
                        "schema": {"type": "string", "format": "date"}, "description": "日期，缺省为今天"}],
        "responses": {"200": _json(_ref("AppointmentDay"), "当天的预约，上午在前"), "401": UNAUTHORIZED},
    },
    "post": {
        "summary": "代群众预约（村代办员、乡镇窗口人员）：到乡镇窗口办理或上门服务，须为今天起的工作日",
        "operationId": "bookAppointment", "tags": ["appointments"],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("BookAppointment")}}},
        "responses": {"201": _json(_ref("Appointment"), "已登记的预约"), "401": UNAUTHORIZED,
                      "403": _error("调用者不是村代办员或乡镇窗口人员"),
                      "422": _error("预约信息有误：事项、地点、日期（非工作日或已过）、时段、姓名或电话"
                                    "（fields 按字段归类）")},
    },
}
PATHS["/appointments/{booking_id}/status"] = {"post": {
    "summary": "处理预约（本辖区的村代办员、乡镇窗口人员）：已办理、未到或取消，只能处理一次",
    "operationId": "markAppointment", "tags": ["appointments"], "parameters": [APPOINTMENT_ID],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["status"],
        "properties": {"status": {"enum": ["done", "no_show", "cancelled"]}}}}}},
    "responses": {"200": _json(_ref("Appointment"), "处理后的预约"), "401": UNAUTHORIZED,
                  "403": _error("调用者不是村代办员或乡镇窗口人员"), "404": _error("预约不存在，或不在调用者的辖区内"),
                  "409": _error("该预约已处理过"), "422": _error("status 不是 done、no_show 或 cancelled")},
}}
SCHEMAS["Appointment"] = {"type": "object", "properties": {
    "id": {"type": "integer"},
    "kind": {"enum": list(AppointmentKind), "description": "window 到窗口办理，home 上门服务"},
    "item": {"type": "object", "properties": {"code": STRING, "name": STRING}},
    "place": {"type": "object", "properties": {"code": STRING, "name": STRING, "level": STRING},
              "description": "窗口所在乡镇，或上门服务的村（社区）"},
    "day": {"type": "string", "format": "date"}, "slot": {"enum": list(AppointmentSlot)},
    "name": STRING, "phone": STRING, "note": NULLABLE_STRING, "status": {"enum": list(AppointmentStatus)},
    "created_at": DATE_TIME, "changed_at": NULLABLE_DATE_TIME}}
SCHEMAS["AppointmentDay"] = {"type": "object", "properties": {
    "day": {"type": "string", "format": "date"}, "appointments": {"type": "array", "items": _ref("Appointment")}}}
SCHEMAS["BookAppointment"] = {
    "type": "object", "required": ["kind", "item", "place", "day", "slot", "name", "phone"],
    "properties": {
        "kind": {"enum": list(AppointmentKind)}, "item": {"type": "string", "description": "事项编码"},
        "place": {"type": "string", "description": "kind 为 window 时为乡镇的行政区划代码，为 home 时为村的代码"},
        "day": {"type": "string", "format": "date", "description": "工作日，不早于今天"},
        "slot": {"enum": list(AppointmentSlot), "description": "morning 上午，afternoon 下午"},
        "name": {"type": "string", "minLength": 2, "maxLength": 30},
        "phone": {"type": "string", "description": "11 位手机号码或带区号的固定电话"},
        "note": {"type": "string", "maxLength": 500}}}
FOLLOW_UP_ID = {"name": "follow_up_id", "in": "path", "required": True, "schema": {"type": "integer"},
                "description": "整改回访 ID"}
SCHEMAS["Attachment"] = {"type": "object", "properties": {
    "id": {"type": "integer"}, "case_id": {"type": "integer"},
    "slot": {"type": "string", "description": "材料名称：事项所需材料之一（item.toml materials），或“其他”"},
    "version": {"type": "integer", "description": "同一材料的第几版；旧版本保留"},
    "filename": STRING, "media_type": {"enum": ["application/pdf", "image/jpeg", "image/png"]},
    "size": {"type": "integer", "description": "字节数"},
    "sha256": {"type": "string", "description": "文件内容的 SHA-256（十六进制），也记入办件历史"},
    "uploaded_by": NULLABLE_STRING, "uploaded_at": DATE_TIME,
    "url": {"type": "string", "description": "下载地址"}}}
SCHEMAS["FollowUp"] = {"type": "object", "properties": {
    "id": {"type": "integer"}, "case_id": {"type": "integer"}, "case_number": STRING,
    "reason": {"enum": ["rating", "complaint"], "description": "rating 差评（不满意、非常不满意），complaint 投诉"},
    "rating_level": {"type": ["string", "null"], "enum": [*RatingLevel, None]},
    "complaint": NULLABLE_STRING, "opened_at": DATE_TIME,
    "due_date": {**NULLABLE_DATE, "description": "答复期限：登记后 BIANMIN_FOLLOWUP_DAYS（默认 5）个工作日"},
    "card": CARD, "status": {"enum": list(FollowUpStatus)}, "answer": NULLABLE_STRING,
    "answered_by": NULLABLE_STRING, "answered_at": NULLABLE_DATE_TIME}}
SCHEMAS["Feedback"] = {"type": "object", "properties": {
    "rating": {"type": ["object", "null"], "properties": {
        "level": {"enum": list(RatingLevel)}, "comment": NULLABLE_STRING,
        "channel": {"enum": list(Channel), "description": "window 窗口登记，public 申请人在公开查询页"},
        "at": DATE_TIME}},
    "complaints": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "integer"}, "text": STRING, "channel": {"enum": list(Channel)}, "at": DATE_TIME}}},
    "follow_ups": {"type": "array", "items": _ref("FollowUp")}}}
ATTACH_FORBIDDEN = _error("调用者不办理该办件，或办件已办结")
PATHS["/cases/{case_id}/attachments"] = {"get": {
    "summary": "办件的材料扫描件：每种材料的全部版本，新版本在前", "operationId": "listAttachments",
    "tags": ["attachments"], "parameters": [CASE_ID],
    "responses": {"200": _json({"type": "object", "properties": {
        "attachments": {"type": "array", "items": _ref("Attachment")}}}, "扫描件列表"),
        "401": UNAUTHORIZED, "404": NOT_FOUND},
}, "post": {
    "summary": "上传扫描件（办理该办件的人员，办结前）：按内容判断类型，只收 PDF、JPEG、PNG",
    "operationId": "addAttachment", "tags": ["attachments"], "parameters": [CASE_ID],
    "description": "同一材料再次上传为新版本，旧版本保留；文件按 SHA-256 保存，内容相同只存一份，从不覆盖。"
                   "单个文件上限 BIANMIN_ATTACHMENT_MB（默认 10 MB）。",
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["slot", "file"],
        "properties": {"slot": {"type": "string", "description": "材料名称（事项所需材料之一，或“其他”）"},
                       "file": {"type": "string", "format": "binary"}}}}}},
    "responses": {"201": _json(_ref("Attachment"), "已保存的新版本"), "401": UNAUTHORIZED,
                  "403": ATTACH_FORBIDDEN, "404": NOT_FOUND,
                  "422": _error("没有文件、文件为空或超过上限、不是 PDF/JPEG/PNG，或材料名称不在清单中")},
}}
PATHS["/attachments/{attachment_id}"] = {"get": {
    "summary": "下载扫描件（能查看该办件的人员）", "operationId": "getAttachment", "tags": ["attachments"],
    "parameters": [{"name": "attachment_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
    "responses": {"200": {"description": "文件内容", "content": {
        kind: {"schema": {"type": "string", "format": "binary"}}
        for kind in ("application/pdf", "image/jpeg", "image/png")}},
        "401": UNAUTHORIZED, "403": _error("调用者无权查看该办件"), "404": _error("附件不存在")},
}}
PATHS["/cases/{case_id}/rating"] = {"get": {
    "summary": "办件的服务评价（好差评）、投诉及整改回访", "operationId": "getCaseFeedback", "tags": ["ratings"],
    "parameters": [CASE_ID],
    "responses": {"200": _json(_ref("Feedback"), "评价、投诉和整改回访"), "401": UNAUTHORIZED, "404": NOT_FOUND},
}, "post": {
    "summary": "窗口代申请人登记评价（办结后，每件一次）；不满意、非常不满意转本县电子监察整改回访",
    "operationId": "rateCase", "tags": ["ratings"], "parameters": [CASE_ID],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["level"],
        "properties": {"level": {"enum": list(RatingLevel)},
                       "comment": {"type": "string", "maxLength": 500, "description": "评价意见（选填）"}}}}}},
    "responses": {"201": _json(_ref("Feedback"), "已登记"), "401": UNAUTHORIZED,
                  "403": _error("调用者既不办理该办件，也不是本辖区的受理窗口"), "404": NOT_FOUND,
                  "409": _error("办件未办结，或已评价过（消息写明何时、评价为何）"),
                  "422": _error("评价不是五个等级之一，或意见过长")},
}}
PATHS["/cases/{case_id}/complaints"] = {"post": {
    "summary": "窗口代申请人登记投诉（任何办件）；转本县电子监察整改回访", "operationId": "fileComplaint",
    "tags": ["ratings"], "parameters": [CASE_ID],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["text"],
        "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 500}}}}}},
    "responses": {"201": _json(_ref("Feedback"), "已登记"), "401": UNAUTHORIZED,
                  "403": _error("调用者既不办理该办件，也不是本辖区的受理窗口"), "404": NOT_FOUND,
                  "422": _error("投诉内容为空或过长")},
}}
PATHS["/followups"] = {"get": {
    "summary": "本辖区的差评与投诉整改回访（电子监察、审计、系统管理员）：待答复的按期限先后",
    "operationId": "listFollowUps", "tags": ["ratings"],
    "parameters": [{"name": "status", "in": "query", "required": False,
                    "schema": {"enum": list(FollowUpStatus), "default": "open"}},
                   {"name": "limit", "in": "query", "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}}],
    "responses": {"200": _json({"type": "object", "properties": {
        "follow_ups": {"type": "array", "items": _ref("FollowUp")}}}, "整改回访"),
        "400": BAD_REQUEST, "401": UNAUTHORIZED, "403": _error("调用者不是电子监察、审计或系统管理员")},
}}
PATHS["/followups/{follow_up_id}/answer"] = {"post": {
    "summary": "答复整改回访（本辖区电子监察人员）：核实、整改和回访情况，记入办件历史",
    "operationId": "answerFollowUp", "tags": ["ratings"], "parameters": [FOLLOW_UP_ID],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["answer"],
        "properties": {"answer": {"type": "string", "minLength": 1, "maxLength": 500}}}}}},
    "responses": {"200": _json(_ref("FollowUp"), "已答复"), "401": UNAUTHORIZED,
                  "403": _error("调用者不是本辖区的电子监察人员"), "404": _error("整改回访不存在"),
                  "409": _error("已答复过（消息写明由谁、何时）"), "422": _error("答复为空或过长")},
}}

# -- task operations: 退回 and 撤回 ----------------------------------------------------------------
REASON = {"type": "string", "minLength": 1, "maxLength": 500, "description": "理由（必填，不超过 500 字）"}
SCHEMAS["Moved"] = {"allOf": [_ref("Case"), {"type": "object", "properties": {"open_tasks": {
    "type": "array", "description": "操作后办件上的待办任务",
    "items": {"type": "object", "properties": {"id": STRING, "step": STRING, "element_id": STRING}}}}}]}
SCHEMAS["SendBackTargets"] = {"type": "object", "properties": {"task_id": STRING, "targets": {
    "type": "array", "description": "可退回到的环节，按办理先后排列",
    "items": {"type": "object", "properties": {
        "task_id": {"type": "string", "description": "退回时作为 target_task_id 提交"},
        "step": STRING, "element_id": STRING,
        "whole_split": {"type": "boolean", "description": "true：并行办理（联办）的各环节全部重办"}}}}}}
PATHS["/tasks/{task_id}/send-back"] = {"get": {
    "summary": "退回：可退回到的环节",
    "description": "本办件在该任务之前已办理过的环节：本路径上的，以及在该任务之前已汇合的并行分支上的；"
                   "仍与该任务同时办理的并行分支不在其中（可选“各环节全部重办”）。只有可以办理该任务的人可以查询。",
    "operationId": "listSendBackTargets", "tags": ["tasks"], "parameters": [TASK_ID],
    "responses": {"200": _json(_ref("SendBackTargets"), "可退回到的环节"), "401": UNAUTHORIZED,
                  "403": _error("不是该任务所属岗位的人员，或任务已由他人认领"), "404": NOT_FOUND,
                  "409": _error("任务已办理完毕或已撤销")},
}, "post": {
    "summary": "退回：把办件退回到之前已办理过的环节，附理由",
    "description": "办件从所选环节继续；该环节的原办理人（仍在该岗位时）收到任务，看到退回理由和上次的办理内容"
                   "（任务的 arrival 为 sent_back）。退回到并行分支上的环节时，其他分支的办理结果保留，"
                   "汇合处等待该分支重办。流程状态不随退回次数增长。记入办件历史（task_sent_back）。",
    "operationId": "sendBackTask", "tags": ["tasks"], "parameters": [TASK_ID],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["target_task_id", "reason"],
        "properties": {"target_task_id": STRING, "reason": REASON}}}}},
    "responses": {"200": _json(_ref("Moved"), "退回后的办件"), "401": UNAUTHORIZED,
                  "403": _error("不是可以办理该任务的人（不是该岗位的人员、任务已由他人认领、或是会签/受委派的任务）"),
                  "404": NOT_FOUND,
                  "409": _error("任务已办理完毕或已撤销，或所选环节不是可退回的环节"),
                  "422": _error("未填写退回理由或理由过长")},
}}
PATHS["/tasks/{task_id}/withdraw"] = {"post": {
    "summary": "撤回：办理人取回自己刚办理的环节重办，附理由",
    "description": "只有该环节的办理人可以撤回，且须在之后没有任何人办理、认领或出具文书、公示等计时未届满时；"
                   "撤回后该环节回到本人（arrival 为 withdrawn，表单带上次的内容），由它产生的后续任务撤销。"
                   "记入办件历史（task_withdrawn）。",
    "operationId": "withdrawTask", "tags": ["tasks"], "parameters": [TASK_ID],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["reason"], "properties": {"reason": REASON}}}}},
    "responses": {"200": _json(_ref("Moved"), "撤回后的办件"), "401": UNAUTHORIZED,
                  "403": _error("不是该环节的办理人"), "404": NOT_FOUND,
                  "409": _error("下一环节已办理或已认领（消息写明由谁），或办件已办结"),
                  "422": _error("未填写撤回理由或理由过长")},
}}


# -- task operations: 转办 and 委派 ----------------------------------------------------------------
SCHEMAS["TaskReceivers"] = {"type": "object", "properties": {
    "task_id": STRING,
    "posts": {"type": "array",
              "description": "可转办至的岗位：本办件所在村（社区）、乡镇、县的各办理岗位（有在职人员的），"
                             "当前岗位、电子监察、审计和系统管理员除外",
              "items": {"type": "object", "properties": {
                  "role": {"type": "string", "description": "角色编码，转办时作为 role 提交"},
                  "org_id": {"type": "integer", "description": "单位 ID，转办时作为 org_id 提交"},
                  "label": {"type": "string", "description": "单位 · 岗位名称"}}}},
    "colleagues": {"type": "array", "description": "可委派的同事：在岗、所在岗位服务本办件所在地的在职人员，本人除外；"
                                                   "同岗位、同单位的排在前面",
                   "items": {"type": "object", "properties": {
                       "user": {"type": "string", "description": "用户名，委派时作为 user 提交"},
                       "name": STRING, "label": {"type": "string", "description": "姓名（单位 · 岗位）"}}}}}}
HANDED = ("该任务不在您手中：不是该任务所属岗位的人员、任务已由他人认领，"
          "或是会签、加签、受委派的任务（受委派人只能办理后交回）")
PATHS["/tasks/{task_id}/receivers"] = {"get": {
    "summary": "转办、委派：可接收该任务的岗位和同事",
    "description": "只有可以办理该任务的人（本岗位人员，已认领的为认领人）可以查询；"
                   "转办和委派时会在加锁后再次检查所选对象。",
    "operationId": "listTaskReceivers", "tags": ["tasks"], "parameters": [TASK_ID],
    "responses": {"200": _json(_ref("TaskReceivers"), "可转办的岗位和可委派的同事"), "401": UNAUTHORIZED,
                  "403": _error(HANDED), "404": NOT_FOUND, "409": _error("任务已办理完毕或已撤销")},
}}
PATHS["/tasks/{task_id}/transfer"] = {"post": {
    "summary": "转办：把任务永久转交本办件所在地的另一岗位，附理由",
    "description": "任务转到所选岗位（角色在其层级的单位）待认领，原岗位不再办理；"
                   "流程本身不变，环节期限和警示随任务转移。"
                   "接收岗位须服务本办件所在的村（社区）、乡镇或县，不是当前岗位，且有在职人员；该岗位人员收到提醒。"
                   "任务的 arrival 为 transferred，arrival_note 为理由。记入办件历史（task_transferred，写明转出、"
                   "转入岗位和理由）。",
    "operationId": "transferTask", "tags": ["tasks"], "parameters": [TASK_ID],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["role", "org_id", "reason"],
        "properties": {"role": {"type": "string", "description": "接收岗位的角色编码"},
                       "org_id": {"type": "integer", "description": "接收岗位所在单位的 ID"}, "reason": REASON}}}}},
    "responses": {"200": _json(_ref("Task"), "转办后的任务"), "401": UNAUTHORIZED, "403": _error(HANDED),
                  "404": NOT_FOUND, "409": _error("任务已办理完毕或已撤销（消息写明由谁、何时办理）"),
                  "422": _error("未填写转办理由或理由过长；所选岗位不存在、不服务本办件所在地（如其他乡镇的岗位）、"
                                "就是当前岗位，或没有在职人员；未做任何改动")},
}}
PATHS["/tasks/{task_id}/delegate"] = {"post": {
    "summary": "委派：请一位同事代为办理，办理后交回本人审核，附理由",
    "description": "任务交给所选同事（arrival 为 delegated），出现在其“我的任务”中；"
                   "同事通过 POST /tasks/{task_id}/complete "
                   "提交，按该环节表单同样校验，但流程不前进：内容保存后任务交回委派人（arrival 为 delegate_answered，"
                   "表单预填同事的办理内容），由委派人审核后提交，办件才继续办理。受委派人不能转办、再委派、退回或加签。"
                   "同事须在岗，且所在岗位服务本办件所在的村（社区）、乡镇或县。记入办件历史（task_delegated、"
                   "delegate_answered）。",
    "operationId": "delegateTask", "tags": ["tasks"], "parameters": [TASK_ID],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["user", "reason"],
        "properties": {"user": {"type": "string", "description": "同事的用户名"}, "reason": REASON}}}}},
    "responses": {"200": _json(_ref("Task"), "委派后的任务"), "401": UNAUTHORIZED, "403": _error(HANDED),
                  "404": NOT_FOUND, "409": _error("任务已办理完毕或已撤销"),
                  "422": _error("未填写委派理由或理由过长；用户不存在，是本人，不在岗，是电子监察、审计或系统管理员，"
                                "或所在岗位不服务本办件所在地；未做任何改动")},
}}
PATHS["/tasks/{task_id}/delegate/recall"] = {"post": {
    "summary": "收回委派：委派人在同事办理前取回任务",
    "description": "任务回到委派人手中（arrival 清空），同事收到提醒且不能再办理。"
                   "记入办件历史（task_delegated，recalled 为 true）。",
    "operationId": "recallDelegation", "tags": ["tasks"], "parameters": [TASK_ID],
    "responses": {"200": _json(_ref("Task"), "收回后的任务"), "401": UNAUTHORIZED,
                  "403": _error("不是委派人，或不是该任务所属岗位的人员"), "404": NOT_FOUND,
                  "409": _error("任务不在委派中（同事已办理交回，或已收回），或已办理完毕")},
}}


# -- task operations: 会签/或签 and 加签 ------------------------------------------------------------
SCHEMAS["AddSigner"] = {"type": "object", "required": ["role", "org_id", "position", "reason"], "properties": {
    "role": {"type": "string", "description": "加签岗位的角色代码，如 town_civil_affairs"},
    "org_id": {"type": "integer", "description": "该岗位所在机构的 ID：须是办件所在的村、乡镇或县（按角色层级）"},
    "position": {"enum": ["before", "after"], "description":
                 "before 在本人之前签署（其签署后任务回到本人）；after 在本人之后签署（本人办理后转其签署，"
                 "其提交即办结本环节）"},
    "reason": {"type": "string", "minLength": 1, "maxLength": 500, "description": "加签理由"}}}
SCHEMAS["Signature"] = {"type": "object", "properties": {
    "task_id": {"type": "string", "description": "该岗位签署用的任务 ID（通过 POST /tasks/{task_id}/complete 签署）"},
    "role": STRING, "role_name": STRING, "org_id": {"type": "integer"}, "org_name": STRING,
    "status": {"enum": list(TaskStatus), "description": "open 待签署，pending 待原办理人办理后签署，completed 已签署，"
                                                       "cancelled 结果已定无需签署或环节已撤销"},
    "signed_by": NULLABLE_STRING, "signed_at": NULLABLE_DATE_TIME,
    "decision": {"description": "结论字段（decision_field）的取值"},
    "approved": {"type": ["boolean", "null"], "description": "会签：该结论是否为同意（signApprove）；加签为 null"},
    "opinion": {**NULLABLE_STRING, "description": "意见字段的内容"},
    "answer": {"type": ["object", "null"], "additionalProperties": True,
               "description": "提交的表单内容（不办理该办件的人看到的个人号码已遮盖）"},
    "position": {"enum": ["before", "after", None], "description": "加签：在原办理人之前或之后签署"},
    "reason": {**NULLABLE_STRING, "description": "加签理由"}}}
SCHEMAS["Signing"] = {"type": "object", "properties": {
    "task_id": {"type": "string", "description": "被签署的流程任务（环节本身的任务，签署期间为 held）"},
    "step": STRING, "element_id": STRING,
    "kind": {"enum": ["all", "any", "ratio", "before", "after"], "description":
             "all 会签（须全部同意）、any 或签（一个同意即通过）、ratio 按比例会签；before/after 加签"},
    "status": {"enum": list(TaskStatus), "description": "环节本身任务的状态：held 签署中，completed 已办结"},
    "opened_at": DATE_TIME, "ratio": {**NULLABLE_STRING, "description": "按比例会签的比例，如 2/3"},
    "needed": {"type": "integer", "description": "通过所需的同意数"}, "signed": {"type": "integer"},
    "total": {"type": "integer"}, "approvals": {"type": "integer"}, "refusals": {"type": "integer"},
    "outcome": {"enum": ["approved", "refused", None], "description": "会签结果；未定或加签为 null"},
    "decision_field": NULLABLE_STRING, "holder": {**NULLABLE_STRING, "description": "环节任务的办理人"},
    "signatures": {"type": "array", "items": _ref("Signature")}}}
PATHS["/tasks/{task_id}/signers"] = {"post": {
    "summary": "加签：办理人请本办件所在村、乡镇或县的另一岗位在本人之前或之后签署本环节（仅限本办件）",
    "operationId": "addSigner", "tags": ["tasks"], "parameters": [TASK_ID],
    "description": "只有可办理该任务的人员（已认领或尚未被他人认领）可以加签；会签、加签任务本身不能再加签。"
                   "before：本人的任务暂停（held），加签岗位签署后回到本人，表单预填其意见；after：加签任务待本人"
                   "办理后开放，加签人提交即以其内容办结本环节。一次只能有一个未签署的加签岗位。"
                   "加签岗位的任务与普通任务一样认领，并通过 POST /tasks/{task_id}/complete 签署。"
                   "每次拒绝都说明原因，且不作任何改动。",
    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("AddSigner")}}},
    "responses": {"201": _json({"type": "object", "properties": {"task": _ref("Task"), "signer": _ref("Task")}},
                               "本人的任务和加签岗位的任务"),
                  "401": UNAUTHORIZED,
                  "403": _error("调用者不是该任务所属岗位的人员、任务已由他人认领，或该任务是会签、加签任务"),
                  "404": NOT_FOUND,
                  "409": _error("任务已办理、已撤销或正在等待会签或加签人员办理，或已有一个待签署的加签岗位"),
                  "422": _error("缺少加签理由、加签位置无效，或所选岗位不存在、不服务本办件所在地、是本岗位、"
                                "无在职人员（fields 按字段归类）")},
}}
PATHS["/cases/{case_id}/signatures"] = {"get": {
    "summary": "办件的会签与加签：每一轮签署的方式、计数，以及各岗位谁何时签署、结论和意见，还有谁未签",
    "operationId": "getCaseSignatures", "tags": ["cases"], "parameters": [CASE_ID],
    "description": "会签环节由流程图设定（用户任务的 signMode、signPosts、signField、signApprove、signRatio）："
                   "环节到达时为每个岗位各开一个签署任务，各岗位通过 POST /tasks/{task_id}/complete 签署；"
                   "结果一经确定（全部同意、一个同意、达到比例，或已不可能达到），以决定性的签署内容办结本环节，"
                   "其余未签的任务撤销。",
    "responses": {"200": _json({"type": "object", "properties": {
        "case_id": {"type": "integer"}, "signings": {"type": "array", "items": _ref("Signing")}}},
        "会签与加签，按开始时间先后"), "401": UNAUTHORIZED, "404": NOT_FOUND},
}}


# -- task operations: 抄送 and 催办 ----------------------------------------------------------------
NOTE = {"type": ["string", "null"], "maxLength": 500, "description": "说明（选填，不超过 500 字）"}
POST = {"type": "object", "required": ["role", "org_id"], "properties": {
    "role": {"type": "string", "description": "角色代码，如 county_civil_affairs"},
    "org_id": {"type": "integer", "description": "岗位所在单位的 ID（见 GET /orgs）"}}}
COPY_ID = {"name": "copy_id", "in": "path", "required": True, "schema": {"type": "integer"},
           "description": "抄送记录 ID"}
SCHEMAS["CaseCopy"] = {"type": "object", "properties": {
    "id": {"type": "integer"}, "case_id": {"type": "integer"}, "case_number": STRING, "item_code": STRING,
    "item_name": STRING, "applicant_name": STRING,
    "applicant_id_number": {"type": "string", "description": "身份证号码（已脱敏）"}, "village": STRING,
    "task_id": NULLABLE_STRING, "step": {"type": "string", "description": "抄送时所在的环节"}, "post": POST,
    "copied_by": {"oneOf": [_ref("Person"), {"type": "null"}], "description": "抄送人；流程图设置的自动抄送为 null"},
    "copied_at": DATE_TIME, "note": STRING,
    "read_at": {**NULLABLE_DATE_TIME, "description": "本岗位首次打开的时间；未读为 null"}}}
SCHEMAS["Supervision"]["properties"]["chases"] = {
    "type": "array", "description": "期间内每个岗位、每位办理人被催办的次数，多的在前；handler 为 null 表示催办时任务"
                                    "仍在岗位待认领",
    "items": {"type": "object", "properties": {
        "post": {"type": "object", "properties": {"role": STRING, "org_id": {"type": "integer"}, "name": STRING}},
        "handler": NULLABLE_STRING, "chases": {"type": "integer", "description": "催办次数"},
        "tasks": {"type": "integer", "description": "涉及的任务数"}}}}
PATHS["/tasks/{task_id}/copy"] = {"post": {
    "summary": "抄送：把办件告知办件所在村、乡镇或县的岗位，对方只能查阅，不产生任务",
    "description": "由可以办理该任务的人（本岗位认领人或尚未认领时的岗位人员）抄送，可一次抄送多个岗位，全部成功或全部"
                   "不做。每个岗位在同一环节只抄送一次。被抄送岗位的在职人员收到提醒，在“抄送我的”（GET /copies）中"
                   "看到该办件。流程图中用户任务的 copyTo 属性（角色代码，逗号分隔）在该环节办结时自动抄送。"
                   "记入办件历史（case_copied）。",
    "operationId": "copyTask", "tags": ["tasks"], "parameters": [TASK_ID],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["posts"],
        "properties": {"posts": {"type": "array", "minItems": 1, "maxItems": 50, "items": POST}, "note": NOTE}}}}},
    "responses": {"201": _json({"type": "object", "properties": {"task_id": STRING, "copies": {
        "type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "case_id": {"type": "integer"}, "step": STRING, "post": POST, "note": STRING,
            "copied_at": DATE_TIME}}}}}, "新建的抄送记录"),
                  "400": BAD_REQUEST, "401": UNAUTHORIZED,
                  "403": _error("不是可以办理该任务的人（不是该岗位的人员或任务已由他人认领），"
                                "或所选岗位不在本办件的辖区内"),
                  "404": _error("任务不存在，或所选岗位不存在、没有在职人员"),
                  "409": _error("任务已办理完毕或已撤销，或本环节已抄送过所选岗位（消息写明哪些）"),
                  "422": _error("没有选择岗位、岗位格式不对，或说明超过 500 字")},
}}
PATHS["/copies"] = {"get": {
    "summary": "抄送我的：抄送给本岗位（及本人代岗的岗位）的办件，最新的在前",
    "operationId": "listCopies", "tags": ["tasks"],
    "parameters": [LIMIT, {"name": "offset", "in": "query", "required": False,
                           "schema": {"type": "integer", "minimum": 0}, "description": "跳过的条数（分页）"}],
    "responses": {"200": _json({"type": "object", "properties": {
        "total": {"type": "integer"}, "unread": {"type": "integer", "description": "本岗位未读的条数"},
        "copies": {"type": "array", "items": _ref("CaseCopy")}}}, "抄送记录"),
                  "400": BAD_REQUEST, "401": UNAUTHORIZED},
}}
PATHS["/copies/{copy_id}/read"] = {"post": {
    "summary": "抄送我的：标记为已读（对本岗位所有人员）",
    "description": "已读时间只记第一次；再次标记不改变。办件本身可按 GET /cases/{case_id} 查阅。",
    "operationId": "readCopy", "tags": ["tasks"], "parameters": [COPY_ID],
    "responses": {"200": _json(_ref("CaseCopy"), "标记后的抄送记录"), "401": UNAUTHORIZED,
                  "404": _error("抄送记录不存在，或不是抄送给本岗位的")},
}}
PATHS["/tasks/{task_id}/chase"] = {"post": {
    "summary": "催办：提醒办理人尽快办理尚未办理的任务",
    "description": "本辖区的电子监察人员、乡镇分管领导，以及办件所在村的代办员可以催办待办（或等待会签、加签）的任务。"
                   "提醒已认领的办理人；尚未认领时提醒该岗位全部在职人员；办理人不在岗时同时提醒 B 岗或代岗人员。"
                   "同一人对同一任务催办后，在任务有新的动作（认领、释放、办理等）之前不能再次催办。"
                   "记入办件历史（task_chased），计入电子监察的催办次数（GET /supervision 的 chases）。",
    "operationId": "chaseTask", "tags": ["tasks"], "parameters": [TASK_ID],
    "requestBody": {"required": False, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"note": NOTE}}}}},
    "responses": {"201": _json({"type": "object", "properties": {
        "id": {"type": "integer"}, "case_id": {"type": "integer"}, "task_id": STRING, "step": STRING, "post": POST,
        "handler": {"oneOf": [_ref("Person"), {"type": "null"}], "description": "被催办的办理人；尚未认领为 null"},
        "chased_at": DATE_TIME, "note": STRING}}, "催办记录"),
                  "400": BAD_REQUEST, "401": UNAUTHORIZED,
                  "403": _error("不是本辖区的电子监察人员、乡镇分管领导或办件所在村的代办员"),
                  "404": _error("任务不存在"),
                  "409": _error("任务已办理完毕或已撤销，或本人已催办过且任务尚未有新的动作（消息写明催办时间）"),
                  "422": _error("说明超过 500 字")},
}}


BAD_INPUT = _error("请求格式不正确：文字含空字符（U+0000）或孤立的代理码位，JSON 嵌套超过 32 层、含 NaN/Infinity "
                   "或不是 JSON 对象，或参数不合要求；未做任何改动")
BUSY = {**_error("数据库繁忙（等待锁或语句超时），未做任何改动：请按 Retry-After 所示秒数后重试"),
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "建议等待的秒数"}}}
TOO_LARGE = _error("请求体超过服务器上限（BIANMIN_MAX_UPLOAD_MB，默认 12 MB）")

# Every request passes the same checks at the edge, and every one but the document's reads the database.
for _path, _methods in PATHS.items():
    for _method, _operation in _methods.items():
        _operation["responses"].setdefault("400", BAD_INPUT)
        if _path != "/openapi.json":
            _operation["responses"].setdefault("503", BUSY)
        if _method == "post":
            _operation["responses"].setdefault("413", TOO_LARGE)

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "便民 Bianmin API",
        "version": "1.0.0",
        "description": "村、乡镇便民服务中心的办件 API。除本文档外均需 Bearer 访问令牌（`bianmin token create 用户名` "
                       "生成）。错误一律返回 JSON：`{\"error\": 中文说明, \"details\": [...]}`，数据校验未通过时"
                       "另有按字段归类的 `fields`。时间为北京时间 ISO 8601（+08:00），日期为 YYYY-MM-DD。"
                       "调用者只能看到本辖区的办件和任务。用了路径不支持的方法时返回 405，Allow 头列出可用的方法。",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerAuth": []}],
    "tags": [
        {"name": "reference", "description": "行政区划与事项目录"},
        {"name": "cases", "description": "办件"},
        {"name": "tasks", "description": "待办任务"},
        {"name": "procedures", "description": "流程部署"},
        {"name": "incidents", "description": "异常办件"},
        {"name": "notifications", "description": "提醒（黄牌、红牌等）"},
        {"name": "extensions", "description": "延期申请与审批"},
        {"name": "supervision", "description": "电子监察"},
        {"name": "window", "description": "代办（委托、传递、回交、签收）与首问负责的咨询登记"},
        {"name": "audit", "description": "审计：查询与核验"},
        {"name": "appointments", "description": "预约服务与上门服务"},
        {"name": "attachments", "description": "材料扫描件"},
        {"name": "ratings", "description": "服务评价（好差评）、投诉与整改回访"},
        {"name": "meta", "description": "API 文档"},
    ],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                           "description": "Authorization: Bearer <访问令牌>"}},
        "schemas": SCHEMAS,
    },
}


def document() -> dict[str, Any]:
    """A copy, so a caller changing it cannot change what later requests get."""
    return copy.deepcopy(DOCUMENT)
