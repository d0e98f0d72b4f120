from pydantic_settings import BaseSettings, SettingsConfigDict


class AuditSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8105
    db_name: str = "gongkai_audit"
