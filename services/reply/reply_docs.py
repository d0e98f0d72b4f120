"""The consolidated reply as a document (HTML and PDF) from the reply's parts (services.reply.documents),
and the worker process every document of a case is rendered in (``render``).

``consolidated_context`` is pure (parts → ``ConsolidatedReply``); ``render`` runs the CPU-bound
rendering (~130 ms a reply) in a worker process, so that the service's event loop (answers, the
broker, the outbox) is not starved by it. The applicant and the departments get the same bytes.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel

from contracts.events import ReplyPart
from contracts.vocabulary import ReplyType
from services.reply.aggregation import part_outcome
from services.reply.documents import CONSOLIDATED, RenderedDocument, render_document
from services.reply.documents import models as m

# Printed when the applicant's name is not known here: a case referred from another agency, whose
# contact details stay with the referring agency (services/intake/referrals.py). Otherwise the name
# (or the organisation's) comes from the restricted contacts topic (services/reply/step_documents.py).
APPLICANT = "申请人"


@dataclass(frozen=True)
class AgencyInfo:
    name: str
    office: str
    address: str
    phone: str
    review_body: str


def department_decision(part: ReplyPart, names: Mapping[str, str] | None = None) -> m.DepartmentDecision:
    """``names``: a material reference (``material:<id>``) -> the uploaded file's name, as the
    applicant downloads it; other references (a department system's own) are shown as given."""
    a = part.answer
    names = names or {}
    text = a.text + (f"（理由：{a.reason}）" if a.reason else "")
    return m.DepartmentDecision(
        dept_name=part.dept_name,
        outcome_code=part_outcome(part),
        text=text,
        materials=[m.Material(title=names.get(ref, ref)) for ref in a.material_refs],
        withheld=[m.WithheldPart(description=w.description, reason_code=w.reason_code, explanation=w.explanation)
                  for w in a.withheld],
        responsible_agency=m.ResponsibleAgency(
            name=a.responsible_agency.name,
            contact=m.Contact(address=a.responsible_agency.address, phone=a.responsible_agency.phone),
        ) if a.responsible_agency else None,
    )


def consolidated_context(
    *,
    tracking_number: str,
    agency: AgencyInfo,
    received_on: date,
    issued_on: date,
    request_summary: str,
    parts: Sequence[ReplyPart],
    decision: ReplyType,
    notes: Sequence[str] = (),
    material_names: Mapping[str, str] | None = None,
    applicant_name: str = APPLICANT,
    mailing: m.Mailing | None = None,
) -> m.ConsolidatedReply:
    return m.ConsolidatedReply(
        case_number=tracking_number,
        agency=m.Agency(name=agency.name, office=agency.office,
                        contact=m.Contact(address=agency.address, phone=agency.phone)),
        received_on=received_on,
        issued_on=max(issued_on, received_on),
        applicant_name=applicant_name or APPLICANT,
        request_summary=request_summary,
        mailing=mailing,
        remedies=m.Remedies(review_body=agency.review_body),
        decision=decision,
        departments=[department_decision(p, material_names) for p in parts],
        notes=list(notes),
    )


_pool: ProcessPoolExecutor | None = None


def _exit_with_parent(parent_pid: int) -> None:
    """In the worker: leave as soon as the service process is gone (e.g. SIGKILLed), not linger."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _renderer() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        # spawn, not fork: the service process runs threads (Kafka, Mongo clients) that fork would copy.
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_exit_with_parent, initargs=(os.getpid(),))
    return _pool


async def render(context: BaseModel, doc_type: str = CONSOLIDATED) -> RenderedDocument:
    """Any document of the set (``doc_type``, its context model), in the worker process."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_renderer(), render_document, doc_type, context)
    except BrokenProcessPool:
        global _pool
        _pool = None  # the worker died (e.g. killed): the next render starts a new one
        raise


async def render_in_worker(fn: Callable[..., RenderedDocument], *args: object) -> RenderedDocument:
    """Any rendering function of the document package (module-level, picklable) in the worker
    process: e.g. the forms of service (services/reply/documents/service_forms.py)."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_renderer(), fn, *args)
    except BrokenProcessPool:
        global _pool
        _pool = None
        raise


def shutdown_renderer() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None
