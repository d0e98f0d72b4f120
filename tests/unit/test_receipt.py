"""Art. 31 of the 2019 Regulations: the date of receipt depends on the channel."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from contracts.vocabulary import Channel
from services.intake.receipt import Receipt, ReceiptDateError, receipt_date

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
        # Online: confirmed at once (today) unless a confirmation date is given.
        (Channel.ONLINE, None, None, TODAY),
        (Channel.ONLINE, None, EARLIER, EARLIER),
        (Channel.ONLINE, EARLIEST, None, TODAY),
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


@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("field", ["signed_on", "confirmed_on"])
def test_future_dates_rejected_on_every_channel(channel, field):
    with pytest.raises(ReceiptDateError) as err:
        receipt_date(channel, TODAY, **{field: TOMORROW})
    assert err.value.field == field


@pytest.mark.parametrize(
    ("channel", "kwargs"),
    [
        (Channel.REGISTERED_MAIL, {"signed_on": TODAY}),
        (Channel.ORDINARY_MAIL, {"confirmed_on": TODAY}),
        (Channel.FAX, {"confirmed_on": TODAY}),
        (Channel.ONLINE, {"confirmed_on": TODAY}),
    ],
)
def test_today_itself_is_not_in_the_future(channel, kwargs):
    assert receipt_date(channel, TODAY, **kwargs).received_on == TODAY


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
