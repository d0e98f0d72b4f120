from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEB_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8106
    db_name: str = "gongkai_web"  # server-side sessions
    # The address people reach the pages at (the OIDC redirect URI is built from it; https makes the
    # cookies Secure).
    public_url: str = "http://127.0.0.1:8106"
    # The other services' HTTP APIs (the web service talks to them only over HTTP).
    intake_url: str = "http://127.0.0.1:8101"
    routing_url: str = "http://127.0.0.1:8102"
    reply_url: str = "http://127.0.0.1:8103"
    notify_url: str = "http://127.0.0.1:8104"
    audit_url: str = "http://127.0.0.1:8105"
    # The OIDC client of the workbench (authorization code + PKCE); the issuer is GONGKAI_OIDC_ISSUER.
    oidc_client_id: str = "gongkai-web"
    oidc_client_secret: str = ""
    # Keys the applicants' CSRF tokens and signs the sign-in state cookie; a secret of the deployment.
    session_secret: str = ""
    # A session ends this long after sign-in at the latest (sooner when the IdP's session ends).
    session_minutes: int = 480
    # A sign-in started at /login must come back to /auth/callback within this time.
    login_minutes: int = 10
    # The access token is refreshed when it expires within this many seconds.
    refresh_margin_seconds: int = 60
    idp_timeout_seconds: float = 10.0
    backend_timeout_seconds: float = 10.0
