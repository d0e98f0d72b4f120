from services.intake.app import build
from services.intake.settings import IntakeSettings
from servicekit.runtime import serve

settings = IntakeSettings()
serve(build(settings), settings.http_host, settings.http_port)
