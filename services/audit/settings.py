from pydantic_settings import BaseSettings, SettingsConfigDict


class AuditSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8105
    db_name: str = "gongkai_audit"
    # Ed25519 private key of the ledger: base64 of the raw 32-byte seed, a PEM key, or a PEM file's
    # path. Empty: read (or, the first time, create) key_file - for local runs only.
    signing_key: str = ""
    key_file: str = ""  # default: $GONGKAI_RUN_DIR/audit-signing.key
    # The log's name (first line of every checkpoint); default "gongkai.audit/<agency code>".
    origin: str = ""
    # A checkpoint is signed this often when the tree grew, and on demand (POST /checkpoints).
    checkpoint_seconds: float = 60.0
    publish_retry_seconds: float = 5.0
    # Bearer tokens of the OGI officers who record administrative review and litigation
    # (comma-separated, each "token" or "name:token"); empty = nobody may record them.
    officer_token: str = ""
    # Same secret as intake's query codes (applicant's view of the timeline).
    query_code_secret: str = "local-dev-only-secret"
