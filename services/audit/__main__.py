from services.audit.app import build
from services.audit.settings import AuditSettings
from servicekit.runtime import serve

settings = AuditSettings()
serve(build(settings), settings.http_host, settings.http_port)
