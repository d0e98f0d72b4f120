from services.web.app import build
from services.web.settings import WebSettings
from servicekit.runtime import serve

settings = WebSettings()
serve(build(settings), settings.http_host, settings.http_port)
