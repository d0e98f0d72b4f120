"""Checks of applicant identity and contact data (Art. 29). Pure domain logic."""

from __future__ import annotations

import hashlib
import re
import hmac
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
_USCC = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def valid_resident_id(number: str) -> bool:
    """GB 11643-1999 citizen identity number: 18 characters, birth date, ISO 7064 check digit."""
    if not re.fullmatch(r"\d{17}[\dXx]", number):
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == number[17].upper()


def valid_phone(number: str) -> bool:
    return bool(_MOBILE.fullmatch(number) or _LANDLINE.fullmatch(number))


def valid_credit_code(code: str) -> bool:
    """Unified social credit code (GB 32100-2015): shape only."""
    return bool(_USCC.fullmatch(code.upper()))


def applicant_ref(id_type: str, id_number: str) -> str:
    """Opaque, stable reference to an applicant: events carry this, never the ID number."""
    digest = hashlib.sha256(f"{id_type}:{id_number.upper()}".encode()).hexdigest()
    return f"app-{digest[:24]}"


def query_code(secret: str, case_id: str) -> str:
    """The 8-digit query code of a case: derived (HMAC), so a replayed submission gets it again
    and nothing secret is stored."""
    digest = hmac.new(secret.encode(), case_id.encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**8:08d}"


def tracking_number(agency_prefix: str, on: date, sequence: int) -> str:
    """E.g. YN-20261123-00042: agency, date of acceptance, sequence of that day."""
    return f"{agency_prefix}-{on:%Y%m%d}-{sequence:05d}"
