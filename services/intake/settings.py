from pydantic_settings import BaseSettings, SettingsConfigDict


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8101
    db_name: str = "gongkai_intake"
    source: str = "/gongkai/intake"
    # Key of the query codes (HMAC). Set it in production; the default is for local runs only.
    query_code_secret: str = "local-dev-only-secret"
    tracking_prefix: str = "YN"
