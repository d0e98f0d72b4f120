from pydantic_settings import BaseSettings, SettingsConfigDict


class ReplySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REPLY_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8103
    db_name: str = "gongkai_reply"
    source: str = "/gongkai/reply"
    sweep_seconds: float = 10.0
