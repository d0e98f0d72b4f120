"""Applicant identity and contact checks (Art. 29): GB 11643 IDs, phones, credit codes, references."""

from __future__ import annotations

import hashlib
import re
from datetime import date

import pytest

from services.intake.identity import (
    applicant_ref,
    normalise_query_code,
    query_code,
    tracking_number,
    valid_credit_code,
    valid_phone,
    valid_resident_id,
)


def iso7064_mod11_2(body: str) -> str:
    """Check character of a 17-digit body, computed from the definition of ISO 7064 MOD 11-2
    (weights 2^(n-1) mod 11 from the right, check digit c with sum + c = 1 mod 11), not from the
    weight/check tables the code under test uses."""
    assert re.fullmatch(r"\d{17}", body)
    total = 0
    for i, ch in enumerate(body):
        position_from_right = 18 - i  # the check digit is position 1
        total += int(ch) * (pow(2, position_from_right - 1) % 11)
    c = (12 - total % 11) % 11
    return "X" if c == 10 else str(c)


def with_check(body: str) -> str:
    return body + iso7064_mod11_2(body)


def test_reference_check_digit_of_the_standard_example():
    # The example of GB 11643-1999 itself.
    assert iso7064_mod11_2("11010519491231002") == "X"


VALID_IDS = [
    "11010519491231002X",  # GB 11643 example
    with_check("44030819900101001"),
    with_check("53010219851130123"),
    with_check("53250119991231456"),
    with_check("37020320000229789"),  # 29 Feb of a leap year
    with_check("65010119700101000"),
]


@pytest.mark.parametrize("number", VALID_IDS)
def test_valid_resident_ids(number):
    assert valid_resident_id(number)


def test_lowercase_x_check_digit_accepted():
    assert valid_resident_id("11010519491231002x")


def _one_digit_changed(number: str, index: int) -> str:
    d = number[index]
    return number[:index] + str((int(d) + 1) % 10) + number[index + 1 :]


@pytest.mark.parametrize("index", [0, 5, 8, 14, 15, 16])
def test_any_single_digit_change_breaks_the_checksum(index):
    # MOD 11-2 detects every single-digit substitution; index 8 changes the birth year only.
    number = "11010519491231002X"
    changed = _one_digit_changed(number, index)
    assert iso7064_mod11_2(changed[:17]) != changed[17]
    assert not valid_resident_id(changed)


@pytest.mark.parametrize("number", VALID_IDS)
def test_wrong_check_digit_rejected(number):
    for check in "0123456789X":
        if check != number[17].upper():
            assert not valid_resident_id(number[:17] + check)


@pytest.mark.parametrize(
    "body",
    [
        "11010519490230002",  # 30 February
        "11010519491301002",  # month 13
        "11010519491200002",  # day 0
        "11010519490001002",  # month 0
        "11010519490229002",  # 29 Feb 1949: not a leap year
        "11010500000101002",  # year 0
    ],
)
def test_impossible_birth_date_rejected_even_with_correct_checksum(body):
    assert not valid_resident_id(with_check(body))


@pytest.mark.parametrize(
    "number",
    [
        "",
        "11010519491231002",  # 17 characters
        "11010519491231002XX",  # 19
        "110105194912310",  # old 15-digit format: not accepted
        "X1010519491231002X",  # X only as the last character
        "1101051949123100 X",
        " 11010519491231002X",
        "11010519491231002X\n",
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits
    ],
)
def test_malformed_resident_ids_rejected(number):
    assert not valid_resident_id(number)


@pytest.mark.parametrize(
    ("number", "ok"),
    [
        ("13800138000", True),
        ("19912345678", True),
        ("15012345678", True),
        ("12800138000", False),  # no mobile prefix 12
        ("10800138000", False),
        ("1380013800", False),  # 10 digits
        ("138001380001", False),  # 12 digits
        ("+8613800138000", False),
        ("138-0013-8000", False),
        ("010-12345678", True),  # Beijing, 8-digit number
        ("01012345678", True),  # without the hyphen
        ("0871-6543210", True),  # Kunming, 7-digit number
        ("0871-65432101", True),
        ("0871-654321", False),  # 6-digit number
        ("871-65432101", False),  # area code without the leading 0
        ("0871--65432101", False),
        ("", False),
        ("电话13800138000", False),
    ],
)
def test_phone_formats(number, ok):
    assert valid_phone(number) is ok


@pytest.mark.parametrize("number", ["13800138000\n", "010-12345678\n"])
def test_phone_with_trailing_newline_rejected(number):
    # A validator must judge the whole string, as valid_resident_id does (fullmatch); "$" of
    # re.match also matches before a final newline.
    assert not valid_phone(number)


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("91530100MA6K123456", True),
        ("91110000600037341L", True),
        ("12530000015123456R", True),
        ("91530100ma6k123456", True),  # case-insensitive
        ("91530100MA6K12345", False),  # 17 characters
        ("91530100MA6K1234567", False),  # 19 characters
        ("9153A100MA6K123456", False),  # the division code is 6 digits
        ("91530100MA6K12345I", False),  # I, O, Z, S, V are not used
        ("91530100MA6K12345O", False),
        ("91530100MA6K12345Z", False),
        ("I1530100MA6K123456", False),
        ("", False),
    ],
)
def test_credit_code_shape(code, ok):
    assert valid_credit_code(code) is ok


def test_credit_code_with_trailing_newline_rejected():
    assert not valid_credit_code("91530100MA6K123456\n")


REF_KEY = "ref-key-of-this-deployment"


def test_applicant_ref_is_stable_and_opaque():
    number = "11010519491231002X"
    ref = applicant_ref(REF_KEY, "resident_id_card", number)
    assert ref == applicant_ref(REF_KEY, "resident_id_card", number)
    assert re.fullmatch(r"app-[0-9a-f]{24}", ref)
    assert number not in ref
    assert number[:6] not in ref and number[6:14] not in ref  # neither region nor birth date


def test_applicant_ref_ignores_case_of_the_check_letter():
    assert applicant_ref(REF_KEY, "resident_id_card", "11010519491231002x") == applicant_ref(
        REF_KEY, "resident_id_card", "11010519491231002X"
    )


def test_applicant_ref_differs_across_people_and_id_types():
    a = applicant_ref(REF_KEY, "resident_id_card", VALID_IDS[0])
    b = applicant_ref(REF_KEY, "resident_id_card", VALID_IDS[1])
    c = applicant_ref(REF_KEY, "passport", VALID_IDS[0])
    assert len({a, b, c}) == 3


def test_applicant_ref_is_keyed_not_a_plain_hash():
    """The old reference (unsalted SHA-256 of "type:number") was reversed by enumerating the few
    unknown digits of an ID number; the keyed one cannot be recomputed without the key."""
    number = "11010519491231002X"
    ref = applicant_ref(REF_KEY, "resident_id_card", number)
    old = "app-" + hashlib.sha256(f"resident_id_card:{number}".encode()).hexdigest()[:24]
    assert ref != old
    assert ref != applicant_ref("another-deployment", "resident_id_card", number)
    # An attacker who knows the region and birth date enumerates the sequence and check digits:
    # with the plain hash the old ref gives the number away at once, with the key nothing matches.
    candidates = [with_check(number[:14] + f"{seq:03d}") for seq in range(1000)]
    plain = {"app-" + hashlib.sha256(f"resident_id_card:{c}".encode()).hexdigest()[:24]: c for c in candidates}
    assert plain[old] == number
    assert ref not in plain
    assert applicant_ref(REF_KEY, "resident_id_card", number) in {
        applicant_ref(REF_KEY, "resident_id_card", c) for c in candidates}  # only the key holder can


CROCKFORD = re.compile(r"[0-9A-HJKMNP-TV-Z]{12}")  # no I, L, O, U


def test_query_code_is_deterministic_twelve_crockford_characters_and_keyed():
    code = query_code("secret-1", "case-1")
    assert CROCKFORD.fullmatch(code) and len(code) >= 10
    assert code == query_code("secret-1", "case-1")
    assert code != query_code("secret-2", "case-1")
    assert code != query_code("secret-1", "case-2")


def test_query_codes_of_many_cases_are_well_spread():
    codes = [query_code("s", f"case-{i}") for i in range(500)]
    assert all(CROCKFORD.fullmatch(c) for c in codes)
    assert len(set(codes)) == len(codes)  # 500 draws from 2^60: a collision means a broken code
    assert len({ch for c in codes for ch in c}) == 32  # every symbol of the alphabet is used
    assert not {"I", "L", "O", "U"} & {ch for c in codes for ch in c}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ABCD-EFGH-JKMN", "ABCDEFGHJKMN"),
        (" abcd efgh jkmn ", "ABCDEFGHJKMN"),
        ("0123456789AB", "0123456789AB"),
        ("O1I2L3456789", "011213456789"),  # O read as 0, I and L as 1
        ("ABCDEFGHJKM", None),  # 11 characters
        ("ABCDEFGHJKMNP", None),  # 13
        ("ABCDEFGHJKMU", None),  # U is not a digit of the alphabet
        ("ABCDEFGHJK*N", None),
        ("12345678", None),  # the old 8-digit codes
        ("", None),
    ],
)
def test_query_code_input_is_normalised_or_refused(typed, expected):
    assert normalise_query_code(typed) == expected


@pytest.mark.parametrize(
    ("prefix", "on", "seq", "expected"),
    [
        ("YN", date(2026, 11, 23), 42, "YN-20261123-00042"),
        ("YN", date(2026, 1, 5), 1, "YN-20260105-00001"),
        ("GD", date(2027, 12, 31), 99999, "GD-20271231-99999"),
    ],
)
def test_tracking_number_format(prefix, on, seq, expected):
    assert tracking_number(prefix, on, seq) == expected


def test_tracking_numbers_sort_by_date_then_sequence():
    numbers = [
        tracking_number("YN", date(2026, 11, 23), 10),
        tracking_number("YN", date(2026, 11, 23), 9),
        tracking_number("YN", date(2026, 11, 22), 500),
    ]
    assert sorted(numbers) == [numbers[2], numbers[1], numbers[0]]
