from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class AuditSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8105
    db_name: str = "gongkai_audit"
    # Ed25519 private key of the ledger: base64 of the raw 32-byte seed, a PEM key, or a PEM file's
    # path. Empty: read key_file. Production refuses to start without one of the two (and never
    # creates a key); in development (GONGKAI_ENV=development) a missing key file is created.
    signing_key: str = ""
    key_file: str = ""  # default (development only): $GONGKAI_RUN_DIR/audit-signing.key
    # The log's name (first line of every checkpoint); default "gongkai.audit/<agency code>".
    origin: str = ""
    # A checkpoint is signed this often when the tree grew, and on demand (POST /checkpoints).
    checkpoint_seconds: float = 60.0
    publish_retry_seconds: float = 5.0
    # While the ledger cannot be used (it failed its check and cannot heal), a record is read
    # again after this long; the problem is on /health.
    blocked_retry_seconds: float = 5.0
    # The ledger writer's lease (leader and standby): a standby takes over this long after the
    # leader last renewed it; renewed every third of it.
    lease_seconds: float = 10.0
    # The leader's checks on the write path (services/audit/ledger.py, docs/reliability.md): the
    # head in memory is looked up in the store before an append at most this often (an insert
    # whose position is taken checks it at once; every checkpoint checks it with a count), and the
    # fence (no higher writer term) at most this often (every checkpoint, every heal and every
    # position found taken check it at once). 0: before every append.
    ledger_head_check_seconds: float = 1.0
    ledger_fence_check_seconds: float = 0.2
    # Same secret as intake's query codes (INTAKE_QUERY_CODE_SECRET): the applicant's view of the
    # timeline. No default: production refuses to start without it.
    query_code_secret: str = ""
    # Failed query-code attempts allowed per tracking number and per client ("limits" notation),
    # counted in the store's attempts collection (shared by every audit instance).
    query_code_attempts: str = "5/15 minutes"
    # The case file (一案一档) takes each issued document's PDF from the reply service, asked with the
    # auditor's own access token (GET /cases/{case_id}/documents/{document_id}).
    reply_url: str = "http://127.0.0.1:8103"
    # The quarterly red/black list (季度红黑榜, services/audit/quarterly.py): thresholds the operator
    # sets (rates as fractions: 0.8 = 80%), and the working-day calendar's operator files (the same
    # <YEAR>.json files as the reply service's clock; other years: the chinese-calendar package).
    ranking_min_replies: int = 1
    ranking_red_on_time_rate: float = 1.0
    ranking_red_satisfaction: float = 0.8
    ranking_red_max_returns: int = 0
    ranking_red_max_corrected: int = 0
    ranking_black_on_time_rate: float = 0.8
    ranking_black_satisfaction: float = 0.6
    ranking_black_min_returns: int = 3
    ranking_black_min_corrected: int = 1
    calendar_dir: str = str(Path(__file__).resolve().parent.parent / "reply" / "calendars")
