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
    # Officers (directory admins, OGI officers) are identified by their OIDC access tokens
    # (GONGKAI_OIDC_*, servicekit.oidc); who may call which route: contracts/access.py.
