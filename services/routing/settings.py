from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.routing.directory import DEFAULT_PATH


class RoutingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTING_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8102
    db_name: str = "gongkai_routing"
    source: str = "/gongkai/routing"
    directory_path: Path = DEFAULT_PATH
    # Bearer tokens (comma-separated, each "token" or "name:token"); empty = nobody is let in.
    admin_token: str = ""  # directory admins: change the directory
    officer_token: str = ""  # OGI officers: triage, change departments, withdraw, refer
