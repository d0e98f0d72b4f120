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
    # Same secret as intake's query codes (INTAKE_QUERY_CODE_SECRET): the applicant's view of the
    # timeline. No default: production refuses to start without it.
    query_code_secret: str = ""
    # Failed query-code attempts allowed per tracking number and per client ("limits" notation),
    # counted in the store's attempts collection (shared by every audit instance).
    query_code_attempts: str = "5/15 minutes"
