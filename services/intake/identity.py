"""Checks of applicant identity and contact data (Art. 29). Pure domain logic."""

from __future__ import annotations

import hashlib
import re
import hmac
from datetime import date

# The query code of a case (INTAKE_QUERY_CODE_SECRET): audit and reply check it with the same secret.
from servicekit.querycode import ALPHABET as QUERY_CODE_ALPHABET
from servicekit.querycode import LENGTH as QUERY_CODE_LENGTH
from servicekit.querycode import normalise as normalise_query_code
from servicekit.querycode import query_code

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


def valid_mobile(number: str) -> bool:
    """A mainland mobile number (the only kind that receives a text message)."""
    return bool(_MOBILE.fullmatch(number))


def valid_phone(number: str) -> bool:
    return bool(_MOBILE.fullmatch(number) or _LANDLINE.fullmatch(number))


def valid_credit_code(code: str) -> bool:
    """Unified social credit code (GB 32100-2015): shape only."""
    return bool(_USCC.fullmatch(code.upper()))


def applicant_ref(secret: str, id_type: str, id_number: str) -> str:
    """Opaque, stable reference to an applicant: events carry this, never the ID number.

    A keyed HMAC-SHA256 with the deployment's secret (``INTAKE_APPLICANT_REF_SECRET``): the same ID
    type and number always give the same reference (repeats, fees), and without the key nobody can
    recompute a reference from a guessed ID number (a resident ID has few unknown digits once the
    region and birth date are guessed, so a plain hash is reversed in seconds)."""
    message = f"gongkai-applicant-ref/v2\x00{id_type}:{id_number.strip().upper()}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"app-{digest[:24]}"


__all__ = ["QUERY_CODE_ALPHABET", "QUERY_CODE_LENGTH", "normalise_query_code", "query_code"]


def tracking_number(agency_prefix: str, on: date, sequence: int) -> str:
    """E.g. YN-20261123-00042: agency, date of acceptance, sequence of that day."""
    return f"{agency_prefix}-{on:%Y%m%d}-{sequence:05d}"
