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
