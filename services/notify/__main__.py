from services.notify.app import build
from services.notify.settings import NotifySettings
from servicekit.runtime import serve

settings = NotifySettings()
serve(build(settings), settings.http_host, settings.http_port)
