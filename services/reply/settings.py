from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.reply.clock.calendar import DEFAULT_DIR


class ReplySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REPLY_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8103
    db_name: str = "gongkai_reply"
    source: str = "/gongkai/reply"
    sweep_seconds: float = 10.0
    clock_seconds: float = 60.0  # how often open cases' deadlines, warnings and overdue are checked
    calendar_dir: Path = DEFAULT_DIR  # operator calendar files (<YEAR>.json)
    # Officers are identified by their OIDC access tokens (servicekit.oidc, GONGKAI_OIDC_*);
    # integrators by their Kafka principals (each writes only its department's answers topic).
    # What the reply documents print about the issuing agency (placeholders of the sample directory).
    agency_office: str = "云南省人民政府办公厅政府信息公开办公室"
    agency_address: str = "云南省昆明市五华区五华山（省政府信息公开申请受理中心）"
    agency_phone: str = "0871-60000101"
    review_body: str = "云南省人民政府"  # 行政复议机关
    render_documents: bool = True  # HTML and PDF of every reply (False: plain text only)
    # Same secret as intake's query codes (INTAKE_QUERY_CODE_SECRET): the applicant's public reads
    # (deadline, reply PDF). No default: production refuses to start without it.
    query_code_secret: str = ""
    # Failed query-code attempts allowed per tracking number and per client ("limits" notation).
    query_code_attempts: str = "5/15 minutes"
    # After the reply (services/reply/feedback.py): a reply still unread this many working days after
    # its release is in the OGI office's follow-up queue; a rating may be changed for this many
    # working days after it was first given.
    followup_unread_workdays: int = 5
    rating_change_workdays: int = 10
    # The documents of the procedural steps (services/reply/step_documents.py, issue #11).
    # Secret of the signed links notify fetches a document with to attach it (= NOTIFY_DOCUMENT_LINK_SECRET;
    # no default: production refuses to start without it).
    document_link_secret: str = ""
    # A document addressed to an applicant whose contact has not arrived (a case referred in from
    # another agency) is rendered after this long, addressed to "申请人".
    contact_patience_seconds: float = 600.0
    fee_payment_method: str = ""  # how to pay a processing fee (printed in the 收费通知); "" = the default text
