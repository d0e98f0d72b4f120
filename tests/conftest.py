"""Every test runs in development mode unless it says otherwise: services built in-process accept
development secrets (tests that prove the production refusal set GONGKAI_ENV=production)."""

import os

os.environ.setdefault("GONGKAI_ENV", "development")
