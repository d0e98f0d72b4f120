"""Write each service's AsyncAPI 3.0 document and the whole bus's (servicekit/asyncapi.py) to a
directory:

    python -m servicekit.asyncapi_export [OUT_DIR]   (default: docs/asyncapi)
"""

from __future__ import annotations

import os
import sys

# Building a service to read its document needs no production secrets: nothing is started.
os.environ.setdefault("GONGKAI_ENV", "development")

from servicekit.asyncapi import SERVICES, main  # noqa: E402

__all__ = ["SERVICES", "main"]

if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
