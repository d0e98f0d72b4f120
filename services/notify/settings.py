from pydantic_settings import BaseSettings, SettingsConfigDict


# The local SMSC's account password (deploy/local/smsc.py): in this repository, so no secret.
LOCAL_SMPP_PASSWORD = "localsms"


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8104
    db_name: str = "gongkai_notify"
    source: str = "/gongkai/notify"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_timeout: float = 10.0
    mail_from: str = "gongkai@localhost"
    webhook_timeout: float = 10.0
    # Text messages (issue #17) over SMPP 3.4 to the operator's SMSC (locally deploy/local/smsc/,
    # the stack's port 2775, its account gongkai/localsms). Empty host: no SMS channel (a contact's
    # choice of SMS is then not served; logged). SMPP passwords are at most 8 characters.
    smpp_host: str = "127.0.0.1"
    smpp_port: int = 2775
    smpp_system_id: str = "gongkai"
    smpp_password: str = LOCAL_SMPP_PASSWORD  # production refuses it (a Secret: NOTIFY_SMPP_PASSWORD)
    smpp_system_type: str = ""
    smpp_timeout: float = 10.0
    # The sender id (source_addr) of the texts: per agency ({agency_code: sender id}, JSON), else the
    # default (the agency's service number, 106…, as the operator assigned it).
    sms_sender_id: str = "1069000000"
    sms_sender_ids: dict[str, str] = {}
    # 防打扰时间: no text in this window of the day, China time ("21:00-08:00"; empty: none);
    # a text due inside it is held until its end (services/notify/quiet.py). E-mail is not held.
    # The default: the OGI office's head sets the agency's own (PUT /settings/sms-quiet-hours,
    # stored by notify), which the dispatcher reads at most every sms_quiet_cache_seconds.
    sms_quiet_hours: str = ""
    sms_quiet_cache_seconds: float = 5.0
    # The time zone of the dates in the SMSC's delivery receipts (its local time).
    sms_receipt_timezone: str = "Asia/Shanghai"
    # The portal's status page every text points to (services/web: GET /status).
    status_url: str = "http://127.0.0.1:8106/status"
    # Webhook destinations let through the private-range check (never the https-in-production rule),
    # comma-separated: host, host:port, an address, [v6]:port, or a CIDR network; e.g. the local
    # stack's sink "127.0.0.1:8109". Empty: only public addresses (services/notify/destinations.py).
    webhook_allow_hosts: str = ""
    max_attempts: int = 8
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 300.0
    poll_seconds: float = 1.0
    # How often the count of uncertain deliveries (gauge gongkai_notices_uncertain) is refreshed.
    uncertain_gauge_seconds: float = 30.0
    # How long a notice is held for the earlier notices of its case before it goes anyway, with
    # the reason logged (services/notify/order.py). Longer than a predecessor's own retries take.
    order_patience_seconds: float = 900.0
    # A delivery claimed ("sending") by another notify instance is taken over once its claim is
    # this old (longer than one SMTP conversation or webhook call can last); a claim of this
    # instance's own earlier process (same instance id, GONGKAI_KAFKA_INSTANCE_ID) at once.
    claim_lease_seconds: float = 120.0
    # Officers' mailboxes for deadline warnings and overdue cases (issue #4), as JSON:
    # {"ogi": "ogi@agency.gov.cn", "<dept code>": "..."}. A key not listed gets <key>@<officer_email_domain>.
    officer_emails: dict[str, str] = {}
    officer_email_domain: str = "gongkai.local"
    # The document each applicant notice carries (services/notify/documents.py, issue #11): fetched
    # from the reply service with a link signed with this secret (= REPLY_DOCUMENT_LINK_SECRET; no
    # default: production refuses to start without it); waited for this long if not rendered yet.
    reply_url: str = "http://127.0.0.1:8103"
    document_link_secret: str = ""
    document_patience_seconds: float = 180.0

    def sms_sender(self, agency_code: str | None) -> str:
        """The sender id of the texts of an agency's cases."""
        return self.sms_sender_ids.get(agency_code or "") or self.sms_sender_id

    def officer_email(self, key: str) -> str:
        """The mailbox of the OGI office (``ogi``) or of a department (its code)."""
        return self.officer_emails.get(key) or f"{key}@{self.officer_email_domain}"
