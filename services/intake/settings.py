from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServedAgency(BaseModel):
    """An agency whose applications this intake accepts, and the prefix of its tracking numbers."""

    code: str = Field(pattern=r"^[a-z0-9-]{2,64}$")
    tracking_prefix: str = Field(pattern=r"^[A-Z]{2,8}$")


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8101
    db_name: str = "gongkai_intake"
    source: str = "/gongkai/intake"
    # Secrets of the deployment (no default: production refuses to start without them).
    # Key of the query codes (HMAC); audit's AUDIT_QUERY_CODE_SECRET must be the same.
    query_code_secret: str = ""
    # Key of the applicant references (HMAC of the ID number) on the bus.
    applicant_ref_secret: str = ""
    # The home agency (GONGKAI_AGENCY_CODE) is served with this prefix.
    tracking_prefix: str = Field(default="YN", pattern=r"^[A-Z]{2,8}$")
    # Further agencies this intake serves, as JSON: [{"code": "km-gov", "tracking_prefix": "KM"}].
    # Each one's tracking numbers carry its own prefix and count on their own.
    agencies: list[ServedAgency] = []
    # Hosts whose webhooks may be plain http in production (e.g. an agency's own sink).
    webhook_allow_hosts: list[str] = []
    # How far back an OGI officer may date a post or fax entry (Art. 31 receipt facts).
    clerk_max_days_back: int = Field(default=60, ge=0, le=3650)
    # Failed query-code attempts allowed per tracking number and per client (public correction).
    query_code_attempts: str = "5/15 minutes"
