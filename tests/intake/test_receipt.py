"""Art. 31 of the 2019 Regulations: the date of receipt depends on the channel."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from contracts.vocabulary import Channel
from services.intake.receipt import REGULATIONS_IN_FORCE, Receipt, ReceiptDateError, earliest_entry, receipt_date

TODAY = date(2026, 11, 23)
EARLIER = date(2026, 11, 18)
EARLIEST = date(2026, 11, 10)
TOMORROW = TODAY + timedelta(days=1)


@pytest.mark.parametrize(
    ("channel", "signed_on", "confirmed_on", "expected"),
    [
        # In person: the day submitted, whatever else the clerk typed.
        (Channel.WINDOW, None, None, TODAY),
        (Channel.WINDOW, EARLIER, EARLIEST, TODAY),
        # Registered mail: the day the agency signed for it.
        (Channel.REGISTERED_MAIL, EARLIER, None, EARLIER),
        (Channel.REGISTERED_MAIL, EARLIER, EARLIEST, EARLIER),
        (Channel.REGISTERED_MAIL, TODAY, None, TODAY),
        # Ordinary mail: the day the OGI office confirmed with the applicant.
        (Channel.ORDINARY_MAIL, None, EARLIER, EARLIER),
        (Channel.ORDINARY_MAIL, EARLIEST, EARLIER, EARLIER),
        # Fax: the day both sides confirmed.
        (Channel.FAX, None, EARLIER, EARLIER),
        (Channel.FAX, EARLIEST, EARLIER, EARLIER),
        # Online: confirmed at once, the server's today.
        (Channel.ONLINE, None, None, TODAY),
    ],
)
def test_received_on_per_channel(channel, signed_on, confirmed_on, expected):
    receipt = receipt_date(channel, TODAY, signed_on=signed_on, confirmed_on=confirmed_on)
    assert isinstance(receipt, Receipt)
    assert receipt.received_on == expected


@pytest.mark.parametrize(
    ("channel", "signed_on", "confirmed_on", "field"),
    [
        (Channel.REGISTERED_MAIL, None, None, "signed_on"),
        # A confirmation date does not stand in for the signing date.
        (Channel.REGISTERED_MAIL, None, EARLIER, "signed_on"),
        (Channel.ORDINARY_MAIL, None, None, "confirmed_on"),
        # Nor the other way round.
        (Channel.ORDINARY_MAIL, EARLIER, None, "confirmed_on"),
        (Channel.FAX, None, None, "confirmed_on"),
        (Channel.FAX, EARLIER, None, "confirmed_on"),
    ],
)
def test_missing_required_date_names_the_field(channel, signed_on, confirmed_on, field):
    with pytest.raises(ReceiptDateError) as err:
        receipt_date(channel, TODAY, signed_on=signed_on, confirmed_on=confirmed_on)
    assert err.value.field == field
    assert err.value.message  # a Chinese message for the applicant / clerk
    assert str(err.value) == err.value.message


OFFLINE = [c for c in Channel if c is not Channel.ONLINE]


@pytest.mark.parametrize("channel", OFFLINE)
@pytest.mark.parametrize("field", ["signed_on", "confirmed_on"])
def test_future_dates_rejected_on_every_channel(channel, field):
    with pytest.raises(ReceiptDateError) as err:
        receipt_date(channel, TODAY, **{field: TOMORROW})
    assert err.value.field == field
    assert field in err.value.message and "不能晚于今天" in err.value.message


@pytest.mark.parametrize("field", ["signed_on", "confirmed_on"])
@pytest.mark.parametrize("value", [EARLIER, TODAY, date(1900, 1, 1), TOMORROW])
def test_an_online_application_takes_no_date_at_all(field, value):
    # The date of receipt of an online application is the server's: an applicant setting
    # confirmed_on: 1900-01-01 made the case overdue before it began.
    with pytest.raises(ReceiptDateError) as err:
        receipt_date(Channel.ONLINE, TODAY, **{field: value})
    assert err.value.field == field


@pytest.mark.parametrize(
    ("channel", "field"),
    [(Channel.REGISTERED_MAIL, "signed_on"), (Channel.ORDINARY_MAIL, "confirmed_on"), (Channel.FAX, "confirmed_on")],
)
def test_dates_before_the_earliest_entry_are_refused(channel, field):
    earliest = earliest_entry(TODAY, 60)
    assert earliest == TODAY - timedelta(days=60)
    assert receipt_date(channel, TODAY, **{field: earliest}, earliest=earliest).received_on == earliest
    for too_early in (earliest - timedelta(days=1), date(1900, 1, 1)):
        with pytest.raises(ReceiptDateError) as err:
            receipt_date(channel, TODAY, **{field: too_early}, earliest=earliest)
        assert err.value.field == field and earliest.isoformat() in err.value.message


def test_nothing_is_received_before_the_regulations_took_effect():
    assert earliest_entry(date(2019, 6, 1), 60) == REGULATIONS_IN_FORCE == date(2019, 5, 15)
    with pytest.raises(ReceiptDateError) as err:
        receipt_date(Channel.FAX, date(2019, 6, 1), confirmed_on=date(2019, 5, 14),
                     earliest=earliest_entry(date(2019, 6, 1), 60))
    assert "条例" in err.value.message
    # The default bound, without a clerk's window, is the Regulations' day itself.
    with pytest.raises(ReceiptDateError):
        receipt_date(Channel.REGISTERED_MAIL, TODAY, signed_on=date(2019, 5, 14))


def test_receipt_date_error_is_a_value_error():
    # The HTTP layer catches ReceiptDateError; generic callers may catch ValueError.
    assert issubclass(ReceiptDateError, ValueError)


@pytest.mark.parametrize(
    ("channel", "kwargs", "item"),
    [
        (Channel.WINDOW, {}, "第一项"),
        (Channel.REGISTERED_MAIL, {"signed_on": EARLIER}, "第二项"),
        (Channel.ORDINARY_MAIL, {"confirmed_on": EARLIER}, "第二项"),
        (Channel.FAX, {"confirmed_on": EARLIER}, "第三项"),
        (Channel.ONLINE, {}, "第三项"),
    ],
)
def test_rule_text_cites_article_31_and_its_item(channel, kwargs, item):
    rule = receipt_date(channel, TODAY, **kwargs).rule
    assert "第三十一条" in rule
    assert item in rule
    assert "收到申请之日" in rule


def test_rules_differ_between_channels():
    rules = {
        receipt_date(Channel.WINDOW, TODAY).rule,
        receipt_date(Channel.REGISTERED_MAIL, TODAY, signed_on=TODAY).rule,
        receipt_date(Channel.ORDINARY_MAIL, TODAY, confirmed_on=TODAY).rule,
        receipt_date(Channel.FAX, TODAY, confirmed_on=TODAY).rule,
        receipt_date(Channel.ONLINE, TODAY).rule,
    }
    assert len(rules) == 5
