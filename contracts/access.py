"""Who may call which HTTP route: the one role <-> route table of every service.

Officers are identified by a verified OIDC access token (``servicekit.oidc``); their roles and
their department come from the token's claims, never from a header a caller can set. Every route
of every service is listed here; a route that is missing makes the service refuse to start
(``servicekit.runtime``), so nothing is open by omission. ``docs/access.md`` is generated from
this table (``python -m contracts.access``) and a test keeps it current; another test calls every
cell with a token of every role.

``scope`` says what the handler checks beyond the role:
- ``department``: the department in the path or body (or the task's) must be the token's;
- ``four_eyes``: the reviewer must not be the officer who wrote the answer;
- ``query_code``: public, but only with the case's query code (rate-limited per tracking number
  and per client);
- ``signed_link``: public, but only with a link signed with a deployment secret shared by two
  services (servicekit.doclinks: notify fetching a document to attach it).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    DEPT_OFFICER = "dept_officer"  # 部门经办人: answers its own department's tasks
    DEPT_REVIEWER = "dept_reviewer"  # 部门保密审查人: signs off its department's answers (four eyes)
    OGI_OFFICER = "ogi_officer"  # 政府信息公开工作机构经办人: triage, routing, procedure, fees, clerk entry
    OGI_HEAD = "ogi_head"  # 政府信息公开工作机构负责人: extension (Art. 33) and what the head decides
    DIRECTORY_ADMIN = "directory_admin"  # 目录管理员: the directory of agencies and departments
    AUDITOR = "auditor"  # 审计人员: ledger export, case files, statistics, remedies

    @property
    def label_zh(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.DEPT_OFFICER: "部门经办人", Role.DEPT_REVIEWER: "部门保密审查人", Role.OGI_OFFICER: "公开办经办人",
    Role.OGI_HEAD: "公开办负责人", Role.DIRECTORY_ADMIN: "目录管理员", Role.AUDITOR: "审计人员",
}


@dataclass(frozen=True)
class Access:
    roles: frozenset[Role] = frozenset()
    public: bool = False
    scope: str = ""  # "", "department", "four_eyes", "query_code", "signed_link"
    note: str = ""

    def allows(self, roles: frozenset[str] | set[str]) -> bool:
        return self.public or bool(self.roles & set(roles))


def _officers(*roles: Role, scope: str = "", note: str = "") -> Access:
    return Access(roles=frozenset(roles), scope=scope, note=note)


PUBLIC = Access(public=True)
OPS = Access(public=True, note="operators (loopback / cluster network)")

D, R, O, H, A, U = (Role.DEPT_OFFICER, Role.DEPT_REVIEWER, Role.OGI_OFFICER, Role.OGI_HEAD,
                    Role.DIRECTORY_ADMIN, Role.AUDITOR)
CASE_READERS = (O, H, U)

_OPS_ROUTES = {
    ("GET", "/health"): OPS,
    ("GET", "/metrics"): OPS,
    ("GET", "/asyncapi.json"): OPS,
    # The API's documentation pages (servicekit/docs.py; assets served locally, not in OpenAPI).
    ("GET", "/docs"): Access(public=True, note="Swagger UI, offline"),
    ("GET", "/redoc"): Access(public=True, note="ReDoc, offline"),
}

ROUTES: dict[str, dict[tuple[str, str], Access]] = {
    "intake": {
        **_OPS_ROUTES,
        ("POST", "/applications"): Access(public=True, note="applicants (online); receipt date is the server's"),
        ("POST", "/clerk/applications"): _officers(O, note="window, post and fax entries with their receipt facts"),
        ("GET", "/applications/{case_id}"): _officers(*CASE_READERS),
        ("GET", "/applications/{case_id}/attachments/{attachment_id}"): _officers(
            O, H, note="the applicant's files (personal data)"),
        ("POST", "/public/applications/{tracking_number}/correction"): Access(
            public=True, scope="query_code", note="the applicant's online correction (Art. 30), multipart"),
        ("GET", "/applications/{case_id}/screening"): _officers(O, H),
        ("POST", "/applications/{case_id}/fee-notice"): _officers(O),
        ("POST", "/applications/{case_id}/fee-settlement"): _officers(
            O, note="the fee paid or waived (减免); the reply clock resumes"),
        ("GET", "/referrals/{referral_id}"): _officers(O, H),
    },
    "routing": {
        **_OPS_ROUTES,
        ("GET", "/directory"): Access(public=True, note="the public directory of departments and agencies"),
        ("GET", "/directory/versions"): _officers(A, U),
        ("GET", "/directory/versions/{version}"): _officers(A, U),
        ("PUT", "/directory/agencies/{agency_code}/departments/{code}"): _officers(A),
        ("DELETE", "/directory/agencies/{agency_code}/departments/{code}"): _officers(A),
        ("PUT", "/directory/agencies/{agency_code}"): _officers(A),
        ("GET", "/cases/{case_id}/routing"): _officers(*CASE_READERS),
        ("GET", "/triage"): _officers(O, H),
        ("POST", "/cases/{case_id}/departments"): _officers(O),
        ("POST", "/cases/{case_id}/tasks/{task_id}/withdrawal"): _officers(O),
        ("POST", "/cases/{case_id}/referral"): _officers(O),
        # What routing learned from the OGI office's triage decisions (issue #13): accepted → a new directory version.
        ("GET", "/learning/proposals"): _officers(A, U),
        ("POST", "/learning/proposals/{proposal_id}/acceptance"): _officers(A, note="a new directory version"),
        ("POST", "/learning/proposals/{proposal_id}/rejection"): _officers(A),
    },
    "reply": {
        **_OPS_ROUTES,
        ("GET", "/departments/{dept_code}/tasks"): _officers(D, R, scope="department"),
        ("POST", "/tasks/{task_id}/answer"): _officers(D, scope="department"),
        ("POST", "/tasks/{task_id}/review"): _officers(R, scope="four_eyes"),
        ("GET", "/tasks/{task_id}"): _officers(D, R, scope="department", note="its own task; other tasks: status only"),
        ("POST", "/tasks/{task_id}/acknowledgement"): _officers(D, scope="department"),
        ("POST", "/tasks/{task_id}/return"): _officers(D, scope="department", note="back to the OGI office"),
        ("POST", "/tasks/{task_id}/review/return"): _officers(R, scope="four_eyes"),
        ("POST", "/tasks/{task_id}/material"): _officers(D, scope="department"),
        ("GET", "/cases/{case_id}/material/{material_id}"): _officers(
            D, R, *CASE_READERS, scope="department", note="departments: their own tasks' material"),
        ("GET", "/returned-tasks"): _officers(O, H),
        ("GET", "/cases/{case_id}/reply"): _officers(*CASE_READERS),
        ("GET", "/cases/{case_id}/reply.pdf"): _officers(*CASE_READERS),
        ("GET", "/cases/{case_id}/reply.html"): _officers(*CASE_READERS),
        ("POST", "/cases/{case_id}/close"): _officers(O),
        ("POST", "/cases/{case_id}/contradictions/{contradiction_id}/resolve"): _officers(O),
        ("GET", "/cases/overdue"): _officers(*CASE_READERS),
        ("GET", "/cases/due-soon"): _officers(O, H, note="supervision (督办): open cases due within N working days"),
        ("GET", "/cases/{case_id}/triage"): _officers(*CASE_READERS),
        ("POST", "/cases/{case_id}/triage"): _officers(O),
        ("GET", "/cases/{case_id}/deadline"): _officers(*CASE_READERS),
        ("POST", "/cases/{case_id}/correction"): _officers(O),
        ("POST", "/cases/{case_id}/correction/received"): _officers(O),
        ("POST", "/cases/{case_id}/extension"): _officers(H, note="Art. 33: approved by the OGI office's head"),
        ("POST", "/cases/{case_id}/consultations"): _officers(O),
        ("POST", "/cases/{case_id}/consultations/{number}/end"): _officers(O),
        ("GET", "/public/cases/{tracking_number}/deadline"): Access(public=True, scope="query_code",
                                                                     note="the applicant, with the query code"),
        ("GET", "/public/cases/{tracking_number}/reply.pdf"): Access(public=True, scope="query_code",
                                                                      note="the applicant, with the query code"),
        ("GET", "/public/cases/{tracking_number}/materials"): Access(
            public=True, scope="query_code", note="the applicant: material released with the reply"),
        ("GET", "/public/cases/{tracking_number}/materials/{material_id}"): Access(
            public=True, scope="query_code", note="the applicant: one released material's bytes"),
        # The documents of a case (issue #11): every step's, the reply's, each amendment's.
        ("GET", "/cases/{case_id}/documents"): _officers(*CASE_READERS),
        ("GET", "/cases/{case_id}/documents/{document_id}"): _officers(*CASE_READERS),
        ("GET", "/public/cases/{tracking_number}/documents"): Access(
            public=True, scope="query_code", note="the applicant: the documents addressed to them"),
        ("GET", "/public/cases/{tracking_number}/documents/{document_id}"): Access(
            public=True, scope="query_code", note="the applicant: one document's PDF"),
        ("GET", "/service/documents/{document_id}"): Access(
            public=True, scope="signed_link",
            note="notify (the notice's attachment): a link signed with the deployment's document secret"),
        # After the reply (services/reply/feedback.py): reads, satisfaction, follow-ups (回访).
        ("POST", "/public/cases/{tracking_number}/read"): Access(
            public=True, scope="query_code", note="the applicant opened the released reply"),
        ("PUT", "/public/cases/{tracking_number}/rating"): Access(
            public=True, scope="query_code", note="the applicant's satisfaction with the reply"),
        ("GET", "/cases/{case_id}/feedback"): _officers(*CASE_READERS, note="reads, rating, follow-ups of a case"),
        ("POST", "/cases/{case_id}/follow-ups"): _officers(O, note="a follow-up contact with the applicant"),
        ("GET", "/follow-ups"): _officers(O, H, note="replies unread after N working days, dissatisfied ratings"),
        # The service (送达) of the documents addressed to the applicant (services/reply/service_http.py, issue #17).
        ("GET", "/cases/{case_id}/service"): _officers(*CASE_READERS, note="dates of service, facts, remedy deadlines"),
        ("POST", "/cases/{case_id}/postal-dispatches"): _officers(O, H, note="documents posted (邮寄)"),
        ("POST", "/cases/{case_id}/postal-dispatches/{dispatch_id}/signed"): _officers(
            O, H, note="signed for: served by post"),
        ("POST", "/cases/{case_id}/postal-dispatches/{dispatch_id}/returned"): _officers(
            O, H, note="returned undeliverable: not served"),
        ("POST", "/cases/{case_id}/handovers"): _officers(O, H, note="handed over at the window, signed for"),
        ("GET", "/cases/{case_id}/postal-dispatches/{dispatch_id}/proof-of-service.pdf"): _officers(
            O, H, note="送达回证 (the applicant's name and address)"),
        ("GET", "/cases/{case_id}/postal-dispatches/{dispatch_id}/label.pdf"): _officers(
            O, H, note="address label (the applicant's address and phone)"),
        ("GET", "/cases/{case_id}/handovers/{handover_id}/proof-of-service.pdf"): _officers(O, H, note="送达回证"),
        ("GET", "/public/cases/{tracking_number}/service"): Access(
            public=True, scope="query_code", note="the applicant: dates of service and remedy deadlines"),
    },
    "notify": {
        **_OPS_ROUTES,
        ("GET", "/cases/{case_id}/notices"): _officers(*CASE_READERS),
        # E-mails whose delivery is not known (killed between the end of data and the 250, issue #12).
        ("GET", "/notices/uncertain"): _officers(O, note="every uncertain delivery, with the recipient and Message-ID"),
        ("POST", "/notices/{notice_id}/deliveries/{channel}/resolution"): _officers(
            O, note="sent (delivered, confirmed manually) or resend; only while uncertain"),
        # 防打扰时间, the agency's quiet hours for texts (issue #17): the OGI office's head sets them.
        ("GET", "/settings/sms-quiet-hours"): _officers(O, H, U, note="the window in force, who set it, held now"),
        ("PUT", "/settings/sms-quiet-hours"): _officers(H, note="held texts re-examined at once"),
    },
    "audit": {
        **_OPS_ROUTES,
        ("GET", "/cases/{case_id}/timeline"): _officers(*CASE_READERS),
        ("GET", "/tracking-numbers/{tracking_number}"): _officers(*CASE_READERS, note="look a case up by its tracking number"),
        ("GET", "/public/cases/{tracking_number}/timeline"): Access(public=True, scope="query_code",
                                                                     note="the applicant, with the query code"),
        ("GET", "/cases/{case_id}/file"): _officers(U),
        ("POST", "/checkpoints"): _officers(U),
        ("GET", "/checkpoints/latest"): Access(public=True, note="anyone may verify the ledger"),
        ("GET", "/checkpoints/{tree_size}"): Access(public=True, note="anyone may verify the ledger"),
        ("GET", "/public-key"): Access(public=True, note="anyone may verify the ledger"),
        ("GET", "/proofs/inclusion"): Access(public=True, note="anyone may verify the ledger"),
        ("GET", "/proofs/consistency"): Access(public=True, note="anyone may verify the ledger"),
        ("GET", "/ledger/export"): _officers(U),
        ("GET", "/ledger/verify"): _officers(O, H, U),
        ("GET", "/statistics/annual"): _officers(O, H, U),
        ("GET", "/statistics/quarterly"): _officers(O, H, U),
        ("GET", "/statistics/on-time"): _officers(O, H, U),
        ("GET", "/statistics/heatmap"): _officers(O, H, U),
        ("GET", "/statistics/service"): _officers(O, H, U, note="replies served (送达) or not, by channel (issue #17)"),
        ("GET", "/statistics/repeated-requests"): _officers(O, H, U),
        ("GET", "/statistics/red-black"): _officers(O, H, U, note="季度红黑榜: departments ranked by quarter"),
        ("GET", "/statistics/satisfaction"): _officers(O, H, U, note="ratings by department and outcome, no identity"),
        ("POST", "/cases/{case_id}/remedies"): _officers(O),
        ("GET", "/cases/{case_id}/remedies"): _officers(O, U),
    },
}


# The web service's pages (services/web). Officers are signed in with a session cookie, and the
# session's access token is what the pages relay to the services above (which check it again).
# The page guard (services/web/auth.py) enforces this table (fail closed: an unlisted page is
# refused) and the CSRF token on every form; an officer's page without a session redirects to the
# sign-in. Kept out of ROUTES: those are the APIs called with a bearer token.
WEB_ROUTES: dict[tuple[str, str], Access] = {
    ("GET", "/health"): OPS,
    ("GET", "/metrics"): OPS,
    ("GET", "/login"): Access(public=True, note="starts an officer's sign-in (OIDC code flow + PKCE)"),
    ("GET", "/auth/callback"): Access(public=True, note="the identity provider's redirect back"),
    ("POST", "/logout"): Access(public=True, note="CSRF token; ends the identity provider's session too"),
    # The applicant portal (services/web/portal.py): no account; the query code goes in POST forms only.
    ("GET", "/"): Access(public=True, note="the applicant's guide"),
    ("GET", "/portal.css"): Access(public=True, note="the portal's styles"),
    ("GET", "/apply"): Access(public=True, note="the application form"),
    ("POST", "/apply"): Access(public=True, note="CSRF token; validated by intake's POST /applications"),
    ("GET", "/receipt/{tracking_number}"): Access(public=True, note="shown once, from a one-time server-side record"),
    ("GET", "/status"): Access(public=True, note="tracking number + query code form"),
    ("POST", "/status"): Access(public=True, scope="query_code", note="CSRF token; audit's and reply's public reads"),
    ("POST", "/status/reply.pdf"): Access(public=True, scope="query_code", note="CSRF token; reply's public PDF"),
    ("POST", "/status/document"): Access(public=True, scope="query_code",
                                         note="CSRF token; reply's public document PDF (receipt, notices, reply)"),
    ("POST", "/status/material"): Access(public=True, scope="query_code",
                                         note="CSRF token; reply's public released material"),
    ("POST", "/status/correction"): Access(public=True, scope="query_code",
                                           note="CSRF token; multipart; intake's public online correction"),
    ("POST", "/status/rating"): Access(public=True, scope="query_code", note="CSRF token; reply's public rating"),
    ("GET", "/where"): Access(public=True, note="where to apply (一码通): acceptance points, QR code"),
    ("GET", "/where/qr.png"): Access(public=True, note="QR code of the application form's address"),
    # For integrators (services/web/integrators.py): the bus's AsyncAPI document, the events' schemas.
    ("GET", "/asyncapi/gongkai-bus.json"): Access(public=True, note="AsyncAPI 3.0 document of the whole bus"),
    ("GET", "/schemas/{name}"): Access(public=True, note="JSON Schema of an event version (its dataschema URL)"),
    ("GET", "/work"): _officers(*Role, note="the officer's home"),
    # The department workbench (services/web/dept.py): the reply API checks the department (the
    # token's) and four eyes again; the pages only hide what an officer could not use.
    ("GET", "/work/dept"): _officers(D, R, note="the department's open tasks"),
    ("GET", "/work/dept/tasks/{task_id}"): _officers(D, R, note="task page"),
    ("POST", "/work/dept/tasks/{task_id}/acknowledgement"): _officers(D, R, note="the reply API takes dept_officer"),
    ("POST", "/work/dept/tasks/{task_id}/return"): _officers(D, R, note="the reply API takes dept_officer"),
    ("POST", "/work/dept/tasks/{task_id}/answer"): _officers(D, R, note="the reply API takes dept_officer"),
    ("POST", "/work/dept/tasks/{task_id}/material"): _officers(D, R, note="multipart; the reply API takes dept_officer"),
    ("GET", "/work/dept/cases/{case_id}/material/{material_id}"): _officers(D, R, note="download"),
    ("GET", "/work/dept/review"): _officers(D, R, note="保密审查 queue"),
    ("GET", "/work/dept/review/{task_id}"): _officers(D, R),
    ("POST", "/work/dept/review/{task_id}/sign-off"): _officers(D, R, note="the reply API takes dept_reviewer, four eyes"),
    ("POST", "/work/dept/review/{task_id}/return"): _officers(D, R, note="the reply API takes dept_reviewer, four eyes"),
    # The OGI office's workbench (services/web/ogi.py): the APIs behind each form check the role again
    # (e.g. the extension: the page posts for any OGI officer, the reply API answers 403 without ogi_head).
    ("GET", "/work/ogi"): _officers(O, H, note="triage queue"),
    ("GET", "/work/ogi/clerk"): _officers(O, H),
    ("GET", "/work/ogi/find"): _officers(O, H, note="a case by its tracking number (audit)"),
    ("POST", "/work/ogi/clerk"): _officers(O, H, note="clerk entry (intake: ogi_officer)"),
    ("GET", "/work/ogi/cases/{case_id}"): _officers(O, H, note="case page"),
    ("GET", "/work/ogi/cases/{case_id}/reply.{kind}"): _officers(O, H, note="the reply's PDF and HTML"),
    ("POST", "/work/ogi/cases/{case_id}/departments"): _officers(O, H),
    ("POST", "/work/ogi/cases/{case_id}/tasks/{task_id}/withdrawal"): _officers(O, H),
    ("POST", "/work/ogi/cases/{case_id}/referral"): _officers(O, H),
    ("POST", "/work/ogi/cases/{case_id}/triage"): _officers(O, H),
    ("POST", "/work/ogi/cases/{case_id}/correction"): _officers(O, H),
    ("POST", "/work/ogi/cases/{case_id}/correction/received"): _officers(O, H),
    ("POST", "/work/ogi/cases/{case_id}/extension"): _officers(O, H, note="the reply API takes ogi_head"),
    ("POST", "/work/ogi/cases/{case_id}/consultations"): _officers(O, H),
    ("POST", "/work/ogi/cases/{case_id}/consultations/{number}/end"): _officers(O, H),
    ("POST", "/work/ogi/cases/{case_id}/contradictions/{contradiction_id}/resolve"): _officers(O, H),
    ("POST", "/work/ogi/cases/{case_id}/close"): _officers(O, H),
    ("POST", "/work/ogi/cases/{case_id}/fee-notice"): _officers(O, H),
    ("POST", "/work/ogi/cases/{case_id}/fee-settlement"): _officers(O, H, note="intake: ogi_officer"),
    # 送达 (issue #17): the reply API records service and checks the role again.
    ("POST", "/work/ogi/cases/{case_id}/postal-dispatches"): _officers(O, H, note="邮寄登记 (reply)"),
    ("POST", "/work/ogi/cases/{case_id}/postal-dispatches/{dispatch_id}/signed"): _officers(O, H, note="签收登记 (reply)"),
    ("POST", "/work/ogi/cases/{case_id}/postal-dispatches/{dispatch_id}/returned"): _officers(O, H, note="退回登记 (reply)"),
    ("POST", "/work/ogi/cases/{case_id}/handovers"): _officers(O, H, note="当面送达 (reply)"),
    ("GET", "/work/ogi/cases/{case_id}/postal-dispatches/{dispatch_id}/proof-of-service.pdf"): _officers(
        O, H, note="送达回证 of a dispatch (reply's PDF)"),
    ("GET", "/work/ogi/cases/{case_id}/postal-dispatches/{dispatch_id}/label.pdf"): _officers(
        O, H, note="邮寄面单 (reply's PDF)"),
    ("GET", "/work/ogi/cases/{case_id}/handovers/{handover_id}/proof-of-service.pdf"): _officers(
        O, H, note="送达回证 of a handover (reply's PDF)"),
    ("GET", "/work/ogi/supervision"): _officers(O, H, note="督办"),
    ("GET", "/work/ogi/follow-ups"): _officers(O, H, note="回访: the follow-up queue"),
    ("GET", "/work/ogi/follow-ups/{case_id}"): _officers(O, H, note="a case's reads, rating and follow-ups"),
    ("POST", "/work/ogi/follow-ups/{case_id}"): _officers(O, H, note="record a follow-up (reply: ogi_officer)"),
    ("GET", "/work/notices/uncertain"): _officers(O, note="投递结果不确定的邮件 (notify: ogi_officer)"),
    ("GET", "/work/notices/uncertain/count"): _officers(O, note="the navigation's count (htmx fragment)"),
    ("POST", "/work/notices/{notice_id}/deliveries/{channel}/resolution"): _officers(
        O, note="已发送 or 重新发送 (notify: ogi_officer)"),
    # 短信防打扰时间 (issue #17, services/web/sms_settings.py): notify takes the PUT from ogi_head only.
    ("GET", "/work/ogi/settings/sms"): _officers(O, H, note="防打扰时间: the window, held now, who set it"),
    ("POST", "/work/ogi/settings/sms"): _officers(O, H, note="notify's PUT takes ogi_head (others: its 403 shown)"),
    ("GET", "/work/learning"): _officers(A, note="routing's proposals learned from triage (directory admins)"),
    ("POST", "/work/learning/{proposal_id}/acceptance"): _officers(A, note="a new directory version"),
    ("POST", "/work/learning/{proposal_id}/rejection"): _officers(A),
    ("GET", "/work/stats"): _officers(O, H, U, note="statistics and the ledger"),
    ("GET", "/work/stats/annual.{fmt}"): _officers(O, H, U, note="annual report CSV / XLSX"),
    ("GET", "/work/stats/red-black"): _officers(O, H, U, note="季度红黑榜 and satisfaction"),
    ("GET", "/work/stats/red-black.{fmt}"): _officers(O, H, U, note="季度红黑榜 CSV / XLSX"),
}


def access_of(service: str, method: str, path: str) -> Access | None:
    return ROUTES.get(service, {}).get((method.upper(), path))


def markdown() -> str:
    roles = list(Role)
    head = "| service | method | route | " + " | ".join(f"`{r.value}`" for r in roles) + " | public | scope |"
    lines = [
        "# Who may call which route",
        "",
        "Generated from `contracts/access.py` (`python -m contracts.access > docs/access.md`); a test keeps",
        "it current and calls every cell. ✔ = allowed; a token without an allowed role gets 403, no token",
        "401. Roles and department come from the verified OIDC access token only. The `web` rows are the",
        "pages of services/web: officers sign in there (session cookie; without one an officer's page",
        "redirects to the sign-in, without the role it answers 403), and every form carries a CSRF token.",
        "",
        "| role | 中文 |", "|---|---|",
        *[f"| `{r.value}` | {r.label_zh} |" for r in roles],
        "",
        head,
        "|" + "---|" * (len(roles) + 5),
    ]
    for service, routes in {**ROUTES, "web": WEB_ROUTES}.items():
        for (method, path), acc in routes.items():
            cells = ["✔" if r in acc.roles else "" for r in roles]
            public = "✔" + (f" ({acc.note})" if acc.note else "") if acc.public else ""
            scope = acc.scope + (f" ({acc.note})" if acc.note and not acc.public else "")
            lines.append(f"| {service} | {method} | `{path}` | " + " | ".join(cells) + f" | {public} | {scope} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
