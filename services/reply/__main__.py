from services.reply.app import build
from services.reply.settings import ReplySettings
from servicekit.runtime import serve

settings = ReplySettings()
serve(build(settings), settings.http_host, settings.http_port)
