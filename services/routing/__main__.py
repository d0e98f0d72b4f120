from services.routing.app import build
from services.routing.settings import RoutingSettings
from servicekit.runtime import serve

settings = RoutingSettings()
serve(build(settings), settings.http_host, settings.http_port)
