"""Text messages over SMPP 3.4 (issue #17): the applicant's number, the parts of a text, the
delivery receipts (pure), and ``SmppSender``, the client (``smpplib``, synchronous, in a thread of
its own that holds one bound transceiver session).

**Parts.** A text in Chinese goes in UCS-2 (data_coding 8); one longer than 70 characters is split
into parts of 67 characters with a concatenation header (UDH IE 0x00: reference, total, sequence;
esm_class 0x40) by ``smpplib.gsm.make_parts``, and the handset joins them into one message.

**Two phases, as e-mail (``senders.SmtpSender``).** ``send`` awaits ``commit`` (the dispatcher
records the delivery ``committing``) before the first ``submit_sm`` leaves, then submits the parts
in order, each after the SMSC accepted the one before (``submit_sm_resp`` with ESME_ROK and a
message id). What can go wrong, and what it means for the applicant:

- nothing left (the SMSC unreachable, the bind refused, the first part refused with an error
  status): ``SmsNotSent``, retried with backoff — nothing can reach the handset;
- the first part left and no answer came, or a later part failed after earlier ones were
  accepted: ``SmsUncertain`` — the handset may show the text (or part of it); never sent again
  automatically (the OGI office resolves it, as an uncertain e-mail).

**Receipts.** Each accepted part asks for a delivery receipt (registered_delivery 1). The SMSC
sends it as a ``deliver_sm`` (esm_class 0x04) to a receiving session of our system_id, queued
while none is bound — so receipts for texts sent before a restart arrive after it. The thread
hands each receipt to ``on_receipt`` (the dispatcher records it in the store) and acknowledges it
(``deliver_sm_resp`` ESME_ROK) only once recorded; when recording fails it answers ESME_RX_T_APPN
and the SMSC sends it again (so too, unrecorded, for a receipt read while a part's answer is
overdue: ``_await_response``). A receipt in a final state is never replaced by a later
intermediate one (``FINAL_STATES``; the dispatcher's ``on_receipt``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import re
import select
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from smpplib import consts
from smpplib import exceptions as smpp_errors
from smpplib import smpp
from smpplib.client import Client
from smpplib.gsm import make_parts

from services.notify.faults import NONE as NO_FAULTS
from services.notify.faults import Faults

log = structlog.get_logger()
CHINA = ZoneInfo("Asia/Shanghai")

UCS2 = consts.SMPP_ENCODING_ISO10646  # data_coding 8
RECEIPT = 0x04  # esm_class of a delivery receipt (SMSC delivery receipt, SMPP 3.4 §5.2.12)
ESME_RX_T_APPN = 0x64  # "temporary application error": the SMSC sends the receipt again

Commit = Callable[[], Awaitable[None]]

# -- the applicant's number ---------------------------------------------------------------------

MOBILE = re.compile(r"1[3-9]\d{9}")


def mobile_number(phone: str | None) -> str | None:
    """The 11-digit mainland mobile number of ``phone`` (spaces, dashes and a +86 / 0086 / 86
    prefix removed), or None for a landline, a number abroad, or nothing."""
    if not phone:
        return None
    digits = re.sub(r"[\s\-()（）]", "", phone)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
            break
    return digits if MOBILE.fullmatch(digits) else None


# -- parts ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Parts:
    """A text as the ``submit_sm`` PDUs carry it."""

    payloads: tuple[bytes, ...]  # short_message of each part (UDH first when split)
    data_coding: int
    esm_class: int


def split(text: str) -> Parts:
    """The text in UCS-2, split with concatenation headers when it does not fit one message."""
    payloads, coding, esm_class = make_parts(text, encoding=UCS2)
    return Parts(tuple(payloads), coding, esm_class)


@dataclass(frozen=True)
class Udh:
    ref: int
    total: int
    seq: int


def udh_of(payload: bytes, esm_class: int) -> Udh | None:
    """The concatenation header of a part (IE 0x00, 8-bit reference, or 0x08, 16-bit), if any."""
    if not esm_class & consts.SMPP_GSMFEAT_UDHI or not payload:
        return None
    end = 1 + payload[0]
    i = 1
    while i + 1 < end:
        iei, length = payload[i], payload[i + 1]
        body = payload[i + 2:i + 2 + length]
        if iei == 0x00 and length == 3:
            return Udh(body[0], body[1], body[2])
        if iei == 0x08 and length == 4:
            return Udh(int.from_bytes(body[:2], "big"), body[2], body[3])
        i += 2 + length
    return None


def text_of(payload: bytes, esm_class: int, data_coding: int = UCS2) -> str:
    """The text of one part, its UDH removed (UCS-2 or, else, Latin-1)."""
    body = payload[1 + payload[0]:] if esm_class & consts.SMPP_GSMFEAT_UDHI and payload else payload
    return body.decode("utf-16-be") if data_coding == UCS2 else body.decode("latin-1")


# -- receipts ------------------------------------------------------------------------------------

DELIVERED = "DELIVRD"
FAILED_STATES = frozenset({"UNDELIV", "REJECTD", "EXPIRED", "DELETED", "UNKNOWN"})
# A message's final states (SMPP 3.4 §5.2.28): a receipt in one is never replaced by a later
# intermediate one (ENROUTE, ACCEPTD … arriving after it), only by nothing.
FINAL_STATES = frozenset({DELIVERED, "UNDELIV", "REJECTD", "EXPIRED", "DELETED"})
RECEIPT_FIELD = re.compile(r"(id|sub|dlvrd|submit date|done date|stat|err):(\S*)", re.IGNORECASE)
# message_state (SMPP 3.4 §5.2.28) when the receipt's text has no stat
MESSAGE_STATES = {2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 7: "UNKNOWN", 8: "REJECTD"}


@dataclass(frozen=True)
class Receipt:
    message_id: str
    stat: str
    done_at: datetime | None
    err: str | None
    text: str


def smpp_time(value: str | None, tz: ZoneInfo = CHINA) -> datetime | None:
    """A receipt's date (YYMMDDhhmm, or YYMMDDhhmmss), in the SMSC's local time ``tz``, as UTC."""
    if not value or not value.isdigit() or len(value) not in (10, 12):
        return None
    try:
        local = datetime.strptime(value, "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M")
    except ValueError:
        return None
    return local.replace(tzinfo=tz).astimezone(UTC)


def parse_receipt(text: str, receipted_message_id: str | None = None, message_state: int | None = None,
                  tz: ZoneInfo = CHINA) -> Receipt | None:
    """A delivery receipt's text ("id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…",
    SMPP 3.4 Appendix B) with the TLVs beside it (receipted_message_id, message_state, preferred
    when present); None when it names no message."""
    fields = {k.lower(): v for k, v in RECEIPT_FIELD.findall(text.split(" text:")[0] if " text:" in text else text)}
    message_id = receipted_message_id or fields.get("id")
    if not message_id:
        return None
    stat = (fields.get("stat") or MESSAGE_STATES.get(message_state or -1) or "UNKNOWN").upper()
    return Receipt(message_id=message_id, stat=stat, done_at=smpp_time(fields.get("done date"), tz),
                   err=fields.get("err"), text=text[:300])


@dataclass(frozen=True)
class Outcome:
    """What the receipts of a text's parts say: ``delivered`` (every part DELIVRD; at the last
    receipt's done time), ``failed`` (a part not delivered, with the reason), or None: waiting."""

    status: str | None
    at: datetime | None = None
    reason: str | None = None


def receipt_outcome(message_ids: Iterable[str], receipts: Mapping[str, Mapping[str, Any]]) -> Outcome:
    """Pure: the delivery's state from the receipts recorded so far for its parts."""
    ids = list(message_ids)
    for i, mid in enumerate(ids, start=1):
        r = receipts.get(mid)
        if r is not None and r["stat"] in FAILED_STATES:
            return Outcome("failed", at=r.get("done_at"),
                           reason=f"part {i}/{len(ids)} (message {mid}): stat {r['stat']} err {r.get('err')}")
    if ids and all(mid in receipts and receipts[mid]["stat"] == DELIVERED for mid in ids):
        times = [receipts[mid].get("done_at") for mid in ids]
        known = [t for t in times if t is not None]
        return Outcome("delivered", at=max(known) if known else None)
    return Outcome(None)


# -- the client ----------------------------------------------------------------------------------

class SmsNotSent(Exception):
    """No part reached the SMSC (or it refused the first): safe to send again."""


class SmsUncertain(Exception):
    """A part may have been accepted without its answer being read, or only some parts were accepted."""

    def __init__(self, reason: str, accepted: list[str]) -> None:
        super().__init__(reason)
        self.accepted = accepted


def addr_ton(address: str) -> tuple[int, int]:
    """(TON, NPI) of an address: a number (national/unknown, ISDN), or an alphanumeric sender id."""
    if address.isdigit():
        return consts.SMPP_TON_UNK, consts.SMPP_NPI_ISDN
    return consts.SMPP_TON_ALNUM, consts.SMPP_NPI_UNK


@dataclass
class _Job:
    to: str
    source: str
    parts: Parts
    future: concurrent.futures.Future


ReceiptHandler = Callable[[Receipt], Awaitable[None]]


class SmppSender:
    """One bound transceiver session, held by a thread of its own: it submits the texts handed to
    ``send`` (one at a time, parts in order) and passes the delivery receipts to ``on_receipt``."""

    two_phase = True

    def __init__(self, host: str, port: int, system_id: str, password: str, *, timeout: float = 10.0,
                 system_type: str = "", enquire_seconds: float = 30.0, receipt_tz: ZoneInfo = CHINA,
                 faults: Faults = NO_FAULTS) -> None:
        self.host, self.port, self.system_id, self.password = host, port, system_id, password
        self.timeout, self.system_type, self.enquire_seconds = timeout, system_type, enquire_seconds
        self.receipt_tz = receipt_tz
        self.faults = faults
        self.jobs: queue.Queue[_Job] = queue.Queue()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.on_receipt: ReceiptHandler | None = None
        self.client: Client | None = None
        self.bound = threading.Event()
        self.last_error: str | None = None

    # -- the asyncio side ------------------------------------------------------------------

    def start(self, on_receipt: ReceiptHandler) -> None:
        """Bind (and keep bound) in the background; receipts go to ``on_receipt`` (on this loop)."""
        self.loop = asyncio.get_running_loop()
        self.on_receipt = on_receipt
        self.stopping.clear()
        self.thread = threading.Thread(target=self._run, name="smpp", daemon=True)
        self.thread.start()

    async def close(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            await asyncio.to_thread(self.thread.join, self.timeout + 2)
            self.thread = None

    async def send(self, *, to: str, text: str, source: str, notice_id: str, commit: Commit) -> list[str]:
        """Submit the text's parts in order; returns their message ids. ``commit`` is awaited
        before the first part leaves. Raises ``SmsNotSent`` (nothing left: retry) or
        ``SmsUncertain`` (see the module docstring)."""
        if self.thread is None or not self.thread.is_alive():
            raise SmsNotSent("the SMPP session is not running")
        # Not bound (the SMSC down): fail at once, retried with backoff — an outage must not hold
        # up the e-mails of the same round; a second's grace for the bind at start.
        if not self.bound.is_set() and not await asyncio.to_thread(self.bound.wait, 1.0):
            raise SmsNotSent(f"not bound to the SMSC: {self.last_error or 'binding'}")
        parts = split(text)
        self.faults.reached("notify.before_commit", to)
        await commit()
        self.faults.reached("notify.after_commit", to)
        job = _Job(to, source, parts, concurrent.futures.Future())
        self.jobs.put(job)
        ids = await asyncio.wrap_future(job.future)
        self.faults.reached("notify.after_send", to)
        return ids

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        delay, failures, logged_at = 0.5, 0, 0.0
        while not self.stopping.is_set():
            if self.client is None:
                try:
                    self._bind()
                    delay, failures = 0.5, 0
                except Exception as exc:  # noqa: BLE001 - unreachable, refused: try again
                    self.last_error = repr(exc)[:300]
                    failures += 1
                    if failures == 1 or time.monotonic() - logged_at > 60:  # not a line every few seconds
                        log.warning("smpp_bind_failed", host=self.host, port=self.port, error=self.last_error,
                                    failures=failures)
                        logged_at = time.monotonic()
                    self._fail_waiting(SmsNotSent(f"SMSC unreachable: {self.last_error}"))
                    self.stopping.wait(delay)
                    delay = min(delay * 2, 5.0)
                    continue
            try:
                self._round()
            except Exception as exc:  # noqa: BLE001 - the connection broke: bind again
                self.last_error = repr(exc)[:300]
                log.warning("smpp_session_lost", error=self.last_error)
                self._drop()
        self._unbind()

    def _bind(self) -> None:
        client = Client(self.host, self.port, timeout=self.timeout, allow_unknown_opt_params=True,
                        logger_name="gongkai.smpp")
        try:
            client.connect()
            client.bind_transceiver(system_id=self.system_id, password=self.password,
                                    system_type=self.system_type)
        except Exception:
            client.disconnect()
            raise
        self.client = client
        self.last_enquire = time.monotonic()
        self.bound.set()
        log.info("smpp_bound", host=self.host, port=self.port, system_id=self.system_id)

    def _drop(self) -> None:
        self.bound.clear()
        if self.client is not None:
            try:
                self.client.disconnect()
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.client = None

    def _unbind(self) -> None:
        if self.client is not None:
            try:
                self.client.unbind()
            except Exception:  # noqa: BLE001 - leaving anyway
                pass
        self._drop()
        self._fail_waiting(SmsNotSent("notify stopping"))

    def _fail_waiting(self, exc: Exception) -> None:
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                return
            job.future.set_exception(exc)

    def _round(self) -> None:
        """One turn: a waiting text, the PDUs that came in, an enquire_link when idle."""
        assert self.client is not None
        try:
            job = self.jobs.get_nowait()
        except queue.Empty:
            job = None
        if job is not None:
            self._submit(job)
            return
        sock = self.client._socket  # noqa: SLF001 - smpplib has no public wait for readability
        readable, _, _ = select.select([sock], [], [], 0.05)
        if readable:
            self._handle(self.client.read_pdu())
        elif time.monotonic() - self.last_enquire > self.enquire_seconds:
            self.client.send_pdu(smpp.make_pdu("enquire_link", client=self.client))
            self.last_enquire = time.monotonic()

    def _submit(self, job: _Job) -> None:
        assert self.client is not None
        accepted: list[str] = []
        source_ton, source_npi = addr_ton(job.source)
        for i, payload in enumerate(job.parts.payloads):
            pdu = smpp.make_pdu(
                "submit_sm", client=self.client, service_type="", source_addr_ton=source_ton,
                source_addr_npi=source_npi, source_addr=job.source, dest_addr_ton=consts.SMPP_TON_UNK,
                dest_addr_npi=consts.SMPP_NPI_ISDN, destination_addr=job.to, short_message=payload,
                data_coding=job.parts.data_coding, esm_class=job.parts.esm_class, registered_delivery=1)
            try:
                self.client.send_pdu(pdu)
            except Exception as exc:
                self._drop()
                self._settle(job, accepted, i, f"submit_sm of part {i + 1} not written: {exc!r}", sent=False)
                return
            try:
                resp = self._await_response(pdu.sequence)
            except Exception as exc:  # noqa: BLE001 - no answer: it may have been taken
                self._drop()
                self._settle(job, accepted, i, f"no submit_sm_resp for part {i + 1}: {exc!r}", sent=True)
                return
            if resp.is_error():
                reason = f"part {i + 1} refused: status 0x{int(resp.status):02x} " \
                         f"({consts.DESCRIPTIONS.get(resp.status, 'unknown')})"
                self._settle(job, accepted, i, reason, sent=False)
                return
            mid = resp.message_id.decode() if isinstance(resp.message_id, bytes) else str(resp.message_id)
            accepted.append(mid)
        job.future.set_result(accepted)

    @staticmethod
    def _settle(job: _Job, accepted: list[str], index: int, reason: str, *, sent: bool) -> None:
        """A part failed: nothing taken yet and the part never reached the SMSC (or was refused)
        → not sent; else uncertain."""
        if index == 0 and not sent:
            job.future.set_exception(SmsNotSent(reason))
        else:
            job.future.set_exception(SmsUncertain(reason, list(accepted)))

    def _await_response(self, sequence: int) -> Any:  # noqa: ANN401 - smpplib PDU
        """Read PDUs (handling receipts meanwhile) until the response to ``sequence``.

        The deadline (``timeout``) ends the wait only when nothing is readable: recording a receipt
        that came first may take long (the store slow: up to 3 × ``timeout``), and a response
        already waiting in the socket behind it is no timeout — a part the SMSC took must not be
        made ``uncertain`` by our own slowness. Once the deadline has passed, a receipt still read
        is answered at once with ESME_RX_T_APPN, not recorded (the SMSC sends it again), so that
        the wait ends soon; a limit of one more ``timeout`` past the deadline guards against an
        SMSC that never stops sending."""
        assert self.client is not None
        deadline = time.monotonic() + self.timeout
        overtime: float | None = None  # when the wait first found its deadline passed
        sock = self.client._socket  # noqa: SLF001 - smpplib reads the socket unbuffered (read_pdu)
        while True:
            at = time.monotonic()
            if at >= deadline and overtime is None:
                overtime = at
            readable, _, _ = select.select([sock], [], [], max(deadline - at, 0.0))
            if not readable or (overtime is not None and time.monotonic() - overtime > self.timeout):
                raise TimeoutError(f"no response to sequence {sequence} in {self.timeout}s")
            pdu = self.client.read_pdu()
            if pdu.command == "submit_sm_resp" and pdu.sequence == sequence:
                return pdu
            if pdu.command == "generic_nack" and pdu.sequence == sequence:
                return pdu
            self._handle(pdu, record=time.monotonic() < deadline)

    def _handle(self, pdu: Any, *, record: bool = True) -> None:  # noqa: ANN401 - smpplib PDU
        """Answer a PDU from the SMSC; ``record`` False: a receipt is refused for now (``_deliver``)."""
        assert self.client is not None
        if pdu.command == "deliver_sm":
            status = self._deliver(pdu, record=record)
            resp = smpp.make_pdu("deliver_sm_resp", client=self.client, status=status)
            resp.sequence = pdu.sequence
            self.client.send_pdu(resp)
        elif pdu.command == "enquire_link":
            resp = smpp.make_pdu("enquire_link_resp", client=self.client)
            resp.sequence = pdu.sequence
            self.client.send_pdu(resp)
        elif pdu.command == "unbind":
            resp = smpp.make_pdu("unbind_resp", client=self.client)
            resp.sequence = pdu.sequence
            self.client.send_pdu(resp)
            raise smpp_errors.ConnectionError("the SMSC unbound")

    def _deliver(self, pdu: Any, *, record: bool = True) -> int:  # noqa: ANN401
        """A deliver_sm: a receipt is recorded (then acknowledged); anything else (a reply from a
        handset) is acknowledged and dropped — notices are not a conversation. ``record`` False (a
        submit's wait past its deadline): a receipt is answered ESME_RX_T_APPN at once, unrecorded,
        and the SMSC sends it again."""
        if not int(pdu.esm_class or 0) & RECEIPT:
            log.info("sms_mo_ignored")
            return consts.SMPP_ESME_ROK
        raw = pdu.short_message or b""
        text = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
        rmid = getattr(pdu, "receipted_message_id", None)
        rmid = rmid.decode() if isinstance(rmid, bytes) else rmid
        receipt = parse_receipt(text, rmid or None, getattr(pdu, "message_state", None), self.receipt_tz)
        if receipt is None:
            log.warning("sms_receipt_unreadable", text=text[:200])
            return consts.SMPP_ESME_ROK
        if not record:
            log.info("sms_receipt_deferred", message_id=receipt.message_id, stat=receipt.stat)
            return ESME_RX_T_APPN
        if self.loop is None or self.on_receipt is None:
            return ESME_RX_T_APPN
        try:
            asyncio.run_coroutine_threadsafe(self.on_receipt(receipt), self.loop).result(self.timeout * 3)
        except Exception as exc:  # noqa: BLE001 - not recorded: the SMSC sends it again
            log.warning("sms_receipt_not_recorded", message_id=receipt.message_id, error=repr(exc))
            return ESME_RX_T_APPN
        return consts.SMPP_ESME_ROK


logging.getLogger("gongkai.smpp").setLevel(logging.WARNING)
