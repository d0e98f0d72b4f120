"""The department workbench (部门工作台): the inbox of the officer's own department, the task page
with the answer form and the material upload, and the reviewers' 保密审查 queue.

Every page reads the reply service's API with the signed-in officer's token (the department is
the token's: the pages never name another); every action is a CSRF-checked POST form that calls
the API with that token and, when the API refuses, shows the API's own Chinese message with its
status. Who may do what is the APIs' (contracts/access.py); the pages only hide what an officer
could not use (the answer form for a reviewer, the review queue's own drafts).

With htmx (vendored, loaded by base.html) some forms update the page in place; every one of them
still works as a plain form without JavaScript. An htmx request (``HX-Request``, not a history
restore) gets a fragment: the inbox's filter form only the task list, 签收/退回 from the inbox only
that task's row, the task page's answer form and upload their section with the errors in place (a
success answers ``HX-Redirect`` to the page the plain form would be sent to). A fragment carries
the announcement for the page's polite live region (``#live``, swapped out of band) and puts the
focus (``autofocus``, which htmx honours after a swap) where the officer goes next.

Routes (prefix ``/work/dept``): ``""`` inbox (``status``, ``q``, ``sort``), ``/tasks/{id}`` (+
``/acknowledgement``, ``/return``, ``/answer``, ``/material``), ``/cases/{case_id}/material/{id}``
(download), ``/review`` (queue), ``/review/{task_id}`` (+ ``/sign-off``, ``/return``).
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from contracts.decisions import OUTCOMES
from contracts.vocabulary import ReplyType
from services.web.auth import require_officer, verify_csrf
from services.web.backends import ApiResult
from services.web.backends import call as backends_call
from services.web.ui import is_htmx, render, vary

DEPT_ROLES = ("dept_officer", "dept_reviewer")
dept_staff = require_officer(*DEPT_ROLES)  # one object: tests override it
router = APIRouter(prefix="/work/dept")

ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MAX_UPLOAD = 20 * 1024 * 1024
WITHHELD_ROWS = 3

REPLY_TYPES = [
    (ReplyType.DISCLOSED.value, "予以公开（第三十六条第二项）"),
    (ReplyType.ALREADY_PUBLIC.value, "已主动公开，告知获取方式（第三十六条第一项）"),
    (ReplyType.PARTIALLY_DISCLOSED.value, "部分公开（第三十七条）"),
    (ReplyType.NOT_DISCLOSED.value, "不予公开（第三十六条第三项）"),
    (ReplyType.NOT_EXIST.value, "无法提供（第三十六条第四项）"),
    (ReplyType.NOT_THIS_AGENCY.value, "不属于本机关负责公开（第三十六条第五项）"),
    (ReplyType.REPEAT.value, "重复申请（第三十六条第六项）"),
    (ReplyType.OTHER_LAW.value, "其他处理（第三十六条第七项、第三十九条）"),
]
REPLY_TYPE_ZH = {v: label.split("（")[0] for v, label in REPLY_TYPES}
OUTCOME_ZH = {o.code: f"{o.label}（{o.basis}）" for o in OUTCOMES}
# The reasons a withheld part may give (outcomes that give nothing: Arts. 14-16, 36).
WITHHOLDING = [(o.code, f"{o.label}（{o.basis}）") for o in OUTCOMES
               if o.reply_type in (ReplyType.NOT_DISCLOSED, ReplyType.NOT_EXIST)]
OUTCOME_GROUPS = [(REPLY_TYPE_ZH[t], [(o.code, OUTCOME_ZH[o.code]) for o in OUTCOMES if o.reply_type.value == t])
                  for t, _ in REPLY_TYPES]
STATUS_FILTERS = [("", "全部"), ("new", "待签收"), ("acknowledged", "已签收待答复"), ("draft", "草稿待审查"),
                  ("sent_back", "已退回修改")]
SORTS = [("due", "按答复期限"), ("received", "按收到日期")]
DONE_ZH = {"acknowledged": "已签收该任务", "returned": "已退回政府信息公开工作机构重新分办",
           "answered": "答复草稿已保存，等待本部门保密审查", "uploaded": "材料已上传", "signed_off": "已完成保密审查签署",
           "sent_back": "已退回撰写人修改"}
FIELDS_ZH = {"reply_type": "答复类型", "outcome_code": "办理结果", "reason": "理由", "text": "答复内容",
             "withheld": "不予公开部分", "responsible_agency": "负责公开的机关", "material_refs": "材料"}


# ---------------------------------------------------------------------------- the API


def field_zh(field: str) -> str:
    head = field.split(".")[0]
    return FIELDS_ZH.get(head, field) + (f"（{field}）" if "." in field else "")


async def call(request: Request, method: str, path: str, token: str, **kw: Any) -> ApiResult:  # noqa: ANN401
    """A call to the reply service; refusal messages name the form's fields in Chinese."""
    return await backends_call(request.app.state.backends, method, "reply", path, token, label=field_zh, **kw)


def checked(value: str) -> str:
    if not ID.match(value):
        raise HTTPException(404, "未找到该任务")
    return value


def urgency(days: int | None) -> str:
    if days is None:
        return ""
    if days < 0:
        return "overdue"
    if days <= 2:
        return "due-urgent"
    if days <= 5:
        return "due-soon"
    return ""


URGENCY_ZH = {"due-soon": "临近期限", "due-urgent": "紧急", "overdue": "已逾期"}


def urgency_zh(days: int | None) -> str:
    """The urgency in words, beside its colour (the colour is never the only signal)."""
    return URGENCY_ZH.get(urgency(days), "")


def days_zh(days: int | None) -> str:
    if days is None:
        return "期限未起算或已停止"
    if days < 0:
        return f"已逾期 {-days} 个工作日"
    if days == 0:
        return "今日到期"
    return f"剩余 {days} 个工作日"


def task_state(t: dict[str, Any]) -> str:
    if t.get("sent_back"):
        return "sent_back"
    if t.get("draft"):
        return "draft"
    return "acknowledged" if t.get("acknowledged") else "new"


STATE_ZH = {"new": "待签收", "acknowledged": "已签收", "draft": "草稿待审查", "sent_back": "已退回修改"}


def page(request: Request, name: str, who: Any, status_code: int = 200, **ctx: Any) -> HTMLResponse:  # noqa: ANN401
    return render(request, name, status_code=status_code, me=who, dept=who.principal.department, urgency=urgency,
                  days_zh=days_zh, urgency_zh=urgency_zh, state_zh=STATE_ZH, reply_type_zh=REPLY_TYPE_ZH, outcome_zh=OUTCOME_ZH, **ctx)


def error_page(request: Request, who: Any, api: ApiResult, title: str) -> HTMLResponse:  # noqa: ANN401
    return page(request, "dept/error.html", who, status_code=api.status if api.status >= 400 else 502,
                title=title, message=api.message)


def to(path: str, done: str | None = None, anchor: str = "", request: Request | None = None) -> Response:
    """Where a plain form goes after a success (303); an htmx request is told to go there itself."""
    url = path + (f"?{urlencode({'done': done})}" if done else "") + anchor
    if request is not None and is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def text(form: Any, name: str) -> str:  # noqa: ANN401
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


# ---------------------------------------------------------------------------- inbox


async def listing(request: Request, who: Any) -> list[dict[str, Any]] | tuple[int, str]:  # noqa: ANN401
    """The department's open tasks (each with its ``state``), or (status, why not)."""
    dept = who.principal.department
    if not dept:
        return 403, "您的账号未关联部门，无法查看部门任务。"
    api = await call(request, "GET", f"/departments/{quote(dept)}/tasks", who.access_token)
    if not api.ok:
        return (api.status if api.status >= 400 else 502), api.message
    tasks = list(api.body.get("tasks") or [])
    for t in tasks:
        t["state"] = task_state(t)
    return tasks


@router.get("", response_class=HTMLResponse)
async def inbox(request: Request, status: str = "", q: str = "", sort: str = "due",
                who: Any = Depends(dept_staff)) -> Response:  # noqa: ANN401
    return vary(await inbox_page(request, who, status, q, sort))


DIRECTORY_TTL_SECONDS = 300.0


async def department_name(request: Request, code: str) -> str:
    """The department's name from routing's public directory (cached a few minutes); the code if
    the directory cannot be read."""
    cached = getattr(request.app.state, "dept_names", None)
    now = time.monotonic()
    if cached is None or now - cached[0] > DIRECTORY_TTL_SECONDS:
        api = await backends_call(request.app.state.backends, "GET", "routing", "/directory", None)
        if not (api.ok and isinstance(api.body, dict)):
            return code
        cached = (now, {d["code"]: d["name"] for d in api.body.get("departments") or [] if "code" in d and "name" in d})
        request.app.state.dept_names = cached
    return cached[1].get(code, code)


async def inbox_page(request: Request, who: Any, status: str = "", q: str = "", sort: str = "due", *,  # noqa: ANN401
                     status_code: int = 200, row_error: dict[str, Any] | None = None) -> HTMLResponse:
    tasks = await listing(request, who)
    if isinstance(tasks, tuple):
        return page(request, "dept/error.html", who, status_code=tasks[0], title="部门工作台", message=tasks[1])
    status = status if status in dict(STATUS_FILTERS) else ""
    sort = sort if sort in dict(SORTS) else "due"
    q = q.strip()[:100]
    shown = [t for t in tasks if (not status or task_state(t) == status)
             and (not q or q in (t.get("description") or "") or q in (t.get("tracking_number") or ""))]
    if sort == "received":
        shown.sort(key=lambda t: (t.get("received_on") or "", t.get("tracking_number") or ""))
    else:
        shown.sort(key=lambda t: (t.get("due_on") is None, t.get("due_on") or "", t.get("tracking_number") or ""))
    fragment = is_htmx(request)
    dept_label = "" if fragment else await department_name(request, who.principal.department)
    live = f"任务列表已更新：共 {len(tasks)} 项待办，显示 {len(shown)} 项。" if fragment else ""
    return page(request, "dept/_task_list.html" if fragment else "dept/inbox.html", who, status_code=status_code,
                title="部门工作台", tasks=shown, total=len(tasks), status=status, q=q, sort=sort,
                filters=STATUS_FILTERS, sorts=SORTS, done=DONE_ZH.get(request.query_params.get("done", "")),
                can_answer=who.principal.has("dept_officer"), can_review=who.principal.has("dept_reviewer"),
                row_error=row_error, focus="error" if row_error else "", live=live, dept_label=dept_label)


async def row_page(request: Request, task_id: str, who: Any, *, status_code: int = 200, live: str = "",  # noqa: ANN401
                   row_error: dict[str, Any] | None = None) -> HTMLResponse:
    """The answer to an htmx 签收/退回 from the inbox: that task's row as it is now."""
    tasks = await listing(request, who)
    if isinstance(tasks, tuple):
        return vary(page(request, "dept/_row_fragment.html", who, status_code=tasks[0], t=None, task_id=task_id,
                         gone=tasks[1], gone_error=True, live=""))  # the alert speaks
    row = next((t for t in tasks if t.get("task_id") == task_id), None)
    live = live.replace("{tn}", row["tracking_number"] if row else "")
    return vary(page(request, "dept/_row_fragment.html", who, status_code=status_code, t=row, task_id=task_id,
                     live=live, gone="该任务已不在本部门待办中。", gone_error=False, row_error=row_error,
                     focus="error" if row_error else "open", can_answer=who.principal.has("dept_officer")))


@router.post("/tasks/{task_id}/acknowledgement", dependencies=[Depends(verify_csrf)])
async def acknowledge(request: Request, task_id: str, who: Any = Depends(dept_staff)) -> Response:  # noqa: ANN401
    checked(task_id)
    form = await request.form()
    from_inbox = text(form, "back") != "task"
    api = await call(request, "POST", f"/tasks/{quote(task_id)}/acknowledgement", who.access_token)
    if from_inbox and is_htmx(request):
        if not api.ok:
            return await row_page(request, task_id, who, status_code=api.status if api.status >= 400 else 502,
                                  row_error={"task_id": task_id, "message": f"签收未完成：{api.message}"})
        return await row_page(request, task_id, who, live="已签收 {tn}。")
    if not api.ok:
        return error_page(request, who, api, "签收未完成")
    if not from_inbox:
        return to(f"/work/dept/tasks/{quote(task_id)}", "acknowledged")
    return to("/work/dept", "acknowledged", f"#task-{task_id}")


@router.post("/tasks/{task_id}/return", dependencies=[Depends(verify_csrf)])
async def give_back(request: Request, task_id: str, who: Any = Depends(dept_staff)) -> Response:  # noqa: ANN401
    checked(task_id)
    form = await request.form()
    reason = text(form, "reason")
    from_inbox = text(form, "back") == "inbox"

    async def refused(status_code: int, message: str) -> Response:
        if not from_inbox:
            return await task_page(request, task_id, who, status_code=status_code, return_error=message)
        err = {"task_id": task_id, "message": message, "give_back": True}
        if is_htmx(request):
            return await row_page(request, task_id, who, status_code=status_code, row_error=err)
        return vary(await inbox_page(request, who, status_code=status_code, row_error=err))

    if not reason:
        return await refused(422, "请填写退回理由（例如：不属于本部门职责，建议由某部门办理）")
    api = await call(request, "POST", f"/tasks/{quote(task_id)}/return", who.access_token, json={"reason": reason[:500]})
    if not api.ok:
        return await refused(api.status if api.status >= 400 else 502, api.message)
    if from_inbox and is_htmx(request):  # the task has left the inbox: its row says so
        tn = text(form, "tn")  # the row's tracking number, only to name it
        done = f"{tn if ID.match(tn) else '该任务'} {DONE_ZH['returned']}。"
        return vary(page(request, "dept/_row_fragment.html", who, t=None, task_id=task_id, gone=done,
                         gone_error=False, live=done))
    return to("/work/dept", "returned")


# ---------------------------------------------------------------------------- the task page


def blank_form() -> dict[str, Any]:
    return {"reply_type": "", "outcome_code": "", "reason": "", "text": "", "agency_name": "", "agency_address": "",
            "agency_phone": "", "withheld": [{"description": "", "reason_code": "", "explanation": ""}
                                             for _ in range(WITHHELD_ROWS)], "material_refs": []}


def form_from_answer(answer: dict[str, Any] | None) -> dict[str, Any]:
    f = blank_form()
    if not answer:
        return f
    a = answer.get("answer") or {}
    f.update({k: a.get(k) or "" for k in ("reply_type", "outcome_code", "reason", "text")})
    ra = a.get("responsible_agency") or {}
    f.update(agency_name=ra.get("name", ""), agency_address=ra.get("address", ""), agency_phone=ra.get("phone", ""))
    rows = [{"description": w.get("description", ""), "reason_code": w.get("reason_code", ""),
             "explanation": w.get("explanation", "")} for w in a.get("withheld") or []]
    f["withheld"] = (rows + f["withheld"])[:max(WITHHELD_ROWS, len(rows))]
    f["material_refs"] = list(a.get("material_refs") or [])
    return f


async def task_page(request: Request, task_id: str, who: Any, *, status_code: int = 200,  # noqa: ANN401
                    form: dict[str, Any] | None = None, answer_error: str = "", field_errors: dict | None = None,
                    upload_error: str = "", return_error: str = "", fragment: str = "") -> HTMLResponse:
    """The task page; for an htmx request with ``fragment`` ("answer", "materials") only that section."""
    api = await call(request, "GET", f"/tasks/{quote(task_id)}", who.access_token)
    if not api.ok:
        return error_page(request, who, api, "任务")
    task = api.body
    editable = (who.principal.has("dept_officer") and task["status"] in ("open", "draft")
                and not (task.get("answer") or {}).get("review"))
    fragment = fragment if fragment and is_htmx(request) else ""
    name = {"answer": "dept/_answer_form.html", "materials": "dept/_materials.html"}.get(fragment, "dept/task.html")
    return page(request, name, who, status_code=status_code, title=f"任务 {task['tracking_number']}", fragment=fragment,
                task=task, form=form or form_from_answer(task.get("answer")), editable=editable,
                reply_types=REPLY_TYPES, outcome_groups=OUTCOME_GROUPS, withholding=WITHHOLDING,
                answer_error=answer_error, field_errors=field_errors or {}, upload_error=upload_error,
                return_error=return_error, done=DONE_ZH.get(request.query_params.get("done", "")))


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
async def task(request: Request, task_id: str, who: Any = Depends(dept_staff)) -> Response:  # noqa: ANN401
    return vary(await task_page(request, checked(task_id), who))


def answer_body(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:  # noqa: ANN401
    """(the API body, the form as typed) from the answer form."""
    typed = blank_form()
    for k in ("reply_type", "outcome_code", "reason", "text", "agency_name", "agency_address", "agency_phone"):
        typed[k] = text(form, k)
    rows = []
    for i in range(WITHHELD_ROWS):
        rows.append({k: text(form, f"withheld_{i}_{k}") for k in ("description", "reason_code", "explanation")})
    typed["withheld"] = rows
    typed["material_refs"] = [v for v in form.getlist("material_refs") if isinstance(v, str) and v.startswith("material:")]
    body: dict[str, Any] = {"reply_type": typed["reply_type"], "text": typed["text"],
                            "material_refs": typed["material_refs"]}
    if typed["outcome_code"]:
        body["outcome_code"] = typed["outcome_code"]
    if typed["reason"]:
        body["reason"] = typed["reason"]
    withheld = [r for r in rows if any(r.values())]
    if withheld:
        body["withheld"] = withheld
    if any(typed[k] for k in ("agency_name", "agency_address", "agency_phone")):
        body["responsible_agency"] = {"name": typed["agency_name"], "address": typed["agency_address"],
                                      "phone": typed["agency_phone"]}
    return body, typed


@router.post("/tasks/{task_id}/answer", dependencies=[Depends(verify_csrf)])
async def answer(request: Request, task_id: str, who: Any = Depends(dept_staff)) -> Response:  # noqa: ANN401
    checked(task_id)
    body, typed = answer_body(await request.form())
    if not body["reply_type"] or not body["text"]:
        errs = {k: "请填写此项" for k in ("reply_type", "text") if not body[k]}
        return await task_page(request, task_id, who, status_code=422, form=typed,
                               answer_error="请填写答复类型和答复内容", field_errors=errs, fragment="answer")
    api = await call(request, "POST", f"/tasks/{quote(task_id)}/answer", who.access_token, json=body)
    if not api.ok:
        errs: dict[str, str] = {}
        if isinstance(api.body, dict):
            for e in api.body.get("errors") or []:
                if isinstance(e, dict) and e.get("field"):
                    errs.setdefault(str(e["field"]).split(".")[0], str(e.get("message")))
        return await task_page(request, task_id, who, status_code=api.status, form=typed, answer_error=api.message,
                               field_errors=errs, fragment="answer")
    return to(f"/work/dept/tasks/{quote(task_id)}", "answered", request=request)


@router.post("/tasks/{task_id}/material", dependencies=[Depends(verify_csrf)])
async def upload(request: Request, task_id: str, who: Any = Depends(dept_staff)) -> Response:  # noqa: ANN401
    checked(task_id)
    form = await request.form(max_files=1)
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return await task_page(request, task_id, who, status_code=422, upload_error="请选择要上传的文件",
                               fragment="materials")
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        return await task_page(request, task_id, who, status_code=413, upload_error="文件过大：每个材料文件不得超过 20 MiB",
                               fragment="materials")
    api = await call(request, "POST", f"/tasks/{quote(task_id)}/material", who.access_token,
                     files={"file": (file.filename, data, file.content_type or "application/octet-stream")})
    if not api.ok:
        return await task_page(request, task_id, who, status_code=api.status, upload_error=api.message,
                               fragment="materials")
    return to(f"/work/dept/tasks/{quote(task_id)}", "uploaded", "#materials", request=request)


@router.get("/cases/{case_id}/material/{material_id}")
async def material(request: Request, case_id: str, material_id: str, who: Any = Depends(dept_staff)) -> Response:  # noqa: ANN401
    checked(case_id), checked(material_id)
    api = await call(request, "GET", f"/cases/{quote(case_id)}/material/{quote(material_id)}", who.access_token)
    if not api.ok or api.raw is None:
        return error_page(request, who, api, "材料")
    headers = {k: v for k, v in api.raw.headers.items() if k.lower() in ("content-disposition", "x-content-sha256")}
    return Response(api.raw.content, media_type=api.raw.headers.get("content-type", "application/octet-stream"),
                    headers=headers)


# ---------------------------------------------------------------------------- review


@router.get("/review", response_class=HTMLResponse)
async def review_queue(request: Request, who: Any = Depends(dept_staff)) -> HTMLResponse:  # noqa: ANN401
    dept = who.principal.department
    if not dept:
        return page(request, "dept/error.html", who, status_code=403, title="保密审查",
                    message="您的账号未关联部门，无法查看部门任务。")
    api = await call(request, "GET", f"/departments/{quote(dept)}/tasks", who.access_token)
    if not api.ok:
        return error_page(request, who, api, "保密审查")
    drafts = [t for t in api.body.get("tasks") or []
              if t.get("draft") and not t.get("sent_back") and t.get("answered_by_subject") != who.principal.subject]
    drafts.sort(key=lambda t: (t.get("due_on") is None, t.get("due_on") or ""))
    return page(request, "dept/review_queue.html", who, title="保密审查", drafts=drafts,
                done=DONE_ZH.get(request.query_params.get("done", "")))


async def review_page(request: Request, task_id: str, who: Any, *, status_code: int = 200,  # noqa: ANN401
                      error: str = "", comment_error: str = "") -> HTMLResponse:
    api = await call(request, "GET", f"/tasks/{quote(task_id)}", who.access_token)
    if not api.ok:
        return error_page(request, who, api, "保密审查")
    task = api.body
    author = ((task.get("answer") or {}).get("author") or {})
    return page(request, "dept/review.html", who, status_code=status_code, title=f"保密审查 {task['tracking_number']}",
                task=task, own=author.get("subject") == who.principal.subject, error=error,
                comment_error=comment_error)


@router.get("/review/{task_id}", response_class=HTMLResponse)
async def review(request: Request, task_id: str, who: Any = Depends(dept_staff)) -> HTMLResponse:  # noqa: ANN401
    return await review_page(request, checked(task_id), who)


@router.post("/review/{task_id}/sign-off", dependencies=[Depends(verify_csrf)])
async def sign_off(request: Request, task_id: str, who: Any = Depends(dept_staff)) -> Response:  # noqa: ANN401
    checked(task_id)
    api = await call(request, "POST", f"/tasks/{quote(task_id)}/review", who.access_token, json={})
    if not api.ok:
        return await review_page(request, task_id, who, status_code=api.status, error=api.message)
    return to("/work/dept/review", "signed_off")


@router.post("/review/{task_id}/return", dependencies=[Depends(verify_csrf)])
async def send_back(request: Request, task_id: str, who: Any = Depends(dept_staff)) -> Response:  # noqa: ANN401
    checked(task_id)
    comment = text(await request.form(), "comment")
    if not comment:
        return await review_page(request, task_id, who, status_code=422, comment_error="请填写退回修改的意见")
    api = await call(request, "POST", f"/tasks/{quote(task_id)}/review/return", who.access_token,
                     json={"comment": comment[:2000]})
    if not api.ok:
        return await review_page(request, task_id, who, status_code=api.status, error=api.message)
    return to("/work/dept/review", "sent_back")
