"""ApplicationIn (条例第二十九条) validation, and the Chinese field errors every API returns."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from pydantic import ValidationError

from contracts.vocabulary import ApplicantType, Channel, DeliveryMethod
from services.intake.schemas import ApplicationIn, ClerkApplicationIn
from servicekit.validation import field_errors

VALID = {
    "applicant": {"name": "张三", "id_number": "11010519491231002X"},
    "contact": {"email": "zhangsan@example.com", "phone": "13800138000"},
    "description": "请公开2025年某县征地补偿款的发放情况",
}
CREDIT_CODE = "91530100MA6K123456"


def app(**changes) -> dict:
    """VALID with dotted-path changes; a value of ... deletes the key."""
    doc = copy.deepcopy(VALID)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = doc
        for p in parents:
            node = node.setdefault(p, {})
        if value is ...:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return doc


def errors_of(doc: dict, model: type = ApplicationIn) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(doc)
    return field_errors(exc.value.errors())


def test_valid_application_and_its_defaults():
    a = ApplicationIn.model_validate(VALID)
    assert a.applicant.name == "张三"
    assert a.applicant.type is ApplicantType.NATURAL_PERSON
    assert a.applicant.id_type == "resident_id_card"
    assert a.channel is Channel.ONLINE
    assert a.delivery.method is DeliveryMethod.EMAIL
    assert a.target_departments == []


@pytest.mark.parametrize(
    "doc",
    [
        # An organisation with its credit code and a contact person.
        app(
            applicant={
                "type": "commercial_enterprise",
                "name": "某某科技有限公司",
                "id_type": "unified_social_credit_code",
                "id_number": CREDIT_CODE,
                "contact_person": "李四",
            }
        ),
        # Delivery by post with an address and no e-mail.
        app(
            contact={"address": "昆明市五华区某路1号", "postcode": "650000"},
            delivery={"form": "paper", "method": "post"},
        ),
        # A landline.
        app(contact__phone="0871-65432101"),
        # The channel may be stated, as long as it is online.
        app(channel="online"),
        # Passport holders are not checked against GB 11643.
        app(applicant={"name": "John Smith", "id_type": "passport", "id_number": "E12345678"}),
        app(target_departments=["zrzy", "czt"]),
    ],
)
def test_other_valid_applications(doc):
    ApplicationIn.model_validate(doc)


@pytest.mark.parametrize(
    ("doc", "field", "message_part"),
    [
        (app(applicant__name=...), "applicant.name", "必填"),
        (app(applicant__name="   "), "applicant.name", "至少需要 1 个字符"),
        (app(applicant__id_number="11010519491231002"), "applicant.id_number", "居民身份证号码无效"),
        (app(applicant__id_number="110105194912310021"), "applicant.id_number", "居民身份证号码无效"),
        (app(contact={}), "contact.phone", "请至少填写联系电话、电子邮箱或通信地址之一"),
        (app(contact=...), "contact", "必填"),
        (app(contact={"phone": "13800138000"}), "contact.email", "须填写电子邮箱"),
        (
            app(contact={"email": "a@example.com"}, delivery={"method": "post"}),
            "contact.address",
            "须填写通信地址",
        ),
        (
            app(applicant={"type": "commercial_enterprise", "name": "某某公司", "id_number": "11010519491231002X"}),
            "applicant.id_type",
            "统一社会信用代码",
        ),
        (
            app(
                applicant={
                    "type": "commercial_enterprise",
                    "name": "某某公司",
                    "id_type": "unified_social_credit_code",
                    "id_number": "not-a-code",
                    "contact_person": "李四",
                }
            ),
            "applicant.id_number",
            "统一社会信用代码无效",
        ),
        (
            app(
                applicant={
                    "type": "research_institution",
                    "name": "某研究所",
                    "id_type": "unified_social_credit_code",
                    "id_number": CREDIT_CODE,
                }
            ),
            "applicant.contact_person",
            "联系人",
        ),
        (
            app(applicant={"name": "张三", "id_type": "unified_social_credit_code", "id_number": CREDIT_CODE}),
            "applicant.id_type",
            "自然人",
        ),
        # Online only: other channels, and the dates that fix their receipt, are a clerk's.
        (app(channel="window"), "channel", "/clerk/applications"),
        (app(channel="ordinary_mail"), "channel", "工作人员登记"),
        (app(confirmed_on="1900-01-01"), "confirmed_on", "网上申请以系统确认之日为收到申请之日"),
        (app(signed_on="2026-11-20"), "signed_on", "网上申请以系统确认之日为收到申请之日"),
        (app(received_by="王五"), "received_by", "登录身份"),
        # No control characters in any text, named by their field.
        (app(applicant__name="张\x00三"), "applicant.name", "控制字符"),
        (app(description="申请公开某文件\x00的全文"), "description", "控制字符"),
        (app(contact__address="昆明市\x07某路"), "contact.address", "控制字符"),
        (app(contact__phone="12345"), "contact.phone", "联系电话格式不正确"),
        (app(contact__email="not-an-email"), "contact.email", "格式不正确"),
        (app(contact__webhook_url="ftp://example.com/hook"), "contact.webhook_url", "http:// 或 https://"),
        (app(contact__postcode="6500"), "contact.postcode", "格式不正确"),
        (app(description="太短"), "description", "至少需要 5 个字符"),
        (app(channel="pigeon"), "channel", "取值无效"),
        (app(target_departments=["ZRZY"]), "target_departments", "部门代码无效：ZRZY"),
        (app(agency_code="X"), "agency_code", "格式不正确"),
        (app(nickname="x"), "nickname", "不接受此字段"),
        (app(applicant__age=30), "applicant.age", "不接受此字段"),
    ],
)
def test_invalid_applications_give_chinese_field_errors(doc, field, message_part):
    errors = errors_of(doc)
    matching = [e for e in errors if e["field"] == field]
    assert matching, errors
    assert any(message_part in e["message"] for e in matching), matching
    for e in errors:
        assert e["message"] and e["type"]
        # Every message is Chinese, never pydantic's English text.
        assert not e["message"].startswith(("Field required", "Value error", "String should"))


def test_whitespace_is_stripped_before_checks():
    a = ApplicationIn.model_validate(
        app(applicant__name="  张三 ", contact__phone=" 13800138000\n", applicant__id_number=" 11010519491231002X ")
    )
    assert a.applicant.name == "张三"
    assert a.contact.phone == "13800138000"
    assert a.applicant.id_number == "11010519491231002X"


def test_target_departments_deduplicated_in_order():
    a = ApplicationIn.model_validate(app(target_departments=["czt", "zrzy", "czt", "fgw", "zrzy"]))
    assert a.target_departments == ["czt", "zrzy", "fgw"]


CLERK = {**VALID, "channel": "registered_mail", "signed_on": "2026-11-20"}


@pytest.mark.parametrize(
    "doc",
    [
        {**VALID, "channel": "window"},
        {**VALID, "channel": "registered_mail", "signed_on": "2026-11-20"},
        {**VALID, "channel": "ordinary_mail", "confirmed_on": "2026-11-20"},
        {**VALID, "channel": "fax", "confirmed_on": "2026-11-20"},
    ],
)
def test_valid_clerk_entries(doc):
    ClerkApplicationIn.model_validate(doc)


@pytest.mark.parametrize(
    ("doc", "field", "message_part"),
    [
        ({**VALID, "channel": "online"}, "channel", "取值无效"),  # online applications come from applicants
        ({**VALID}, "channel", "必填"),
        ({**CLERK, "signed_on": "23/11/2026"}, "signed_on", "日期格式不正确"),
        ({**CLERK, "received_by": "王五"}, "received_by", "登录身份"),  # the clerk is the token's
        ({**CLERK, "description": "申请\x00公开某文件"}, "description", "控制字符"),
    ],
)
def test_invalid_clerk_entries(doc, field, message_part):
    errors = errors_of(doc, ClerkApplicationIn)
    assert any(e["field"] == field and message_part in e["message"] for e in errors), errors


def test_dates_parse():
    a = ClerkApplicationIn.model_validate(CLERK)
    assert a.signed_on == date(2026, 11, 20)
    assert a.channel is Channel.REGISTERED_MAIL


# --- field_errors on its own -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loc", "field"),
    [
        (("body", "applicant", "name"), "applicant.name"),
        (("applicant", "name"), "applicant.name"),
        (("body", "target_departments", 0), "target_departments.0"),
        (("query", "limit"), "limit"),
        (("header", "idempotency-key"), "idempotency-key"),
        (("path", "case_id"), "case_id"),
        (("body",), "(body)"),
        ((), "(body)"),
    ],
)
def test_field_paths_are_dotted_without_the_request_part(loc, field):
    [err] = field_errors([{"type": "missing", "loc": loc, "msg": "Field required"}])
    assert err == {"field": field, "message": "此项为必填项", "type": "missing"}


@pytest.mark.parametrize(
    ("err", "message"),
    [
        ({"type": "string_too_long", "loc": ("x",), "ctx": {"max_length": 100}}, "内容过长，最多 100 个字符"),
        ({"type": "too_long", "loc": ("x",), "ctx": {"max_length": 30}}, "最多 30 项"),
        ({"type": "enum", "loc": ("x",), "ctx": {"expected": "'a' 或 'b'"}}, "取值无效，可选值为：'a' 或 'b'"),
        # pydantic's own English list, said in Chinese.
        ({"type": "enum", "loc": ("x",), "ctx": {"expected": "'a', 'b' or 'c'"}}, "取值无效，可选值为：'a'、'b'、'c'"),
        ({"type": "value_error", "loc": ("x",), "ctx": {"error": ValueError("自定义的说明")}}, "自定义的说明"),
        ({"type": "some_future_type", "loc": ("x",)}, "输入无效"),
        ({"type": "value_error", "loc": ("x",)}, "输入无效"),  # no ctx: generic message
    ],
)
def test_messages(err, message):
    [out] = field_errors([err])
    assert out["message"] == message
    assert out["type"] == err["type"]
    assert out["field"] == "x"


def test_every_error_is_reported_in_order():
    errors = errors_of(app(applicant__name=..., description="短"))
    fields = [e["field"] for e in errors]
    assert fields == ["applicant.name", "description"]


# -- the notice channels the applicant chooses (issue #17) --------------------------------------

def test_notice_channels_default_to_none_and_are_kept_in_order_without_repeats():
    assert ApplicationIn.model_validate(app()).contact.notify_by is None
    chosen = ApplicationIn.model_validate(app(contact__phone="13987654321", contact__notify_by=["sms", "sms"]))
    assert chosen.contact.notify_by == ["sms"]
    both = ApplicationIn.model_validate(app(contact__notify_by=["sms", "email"]))
    assert both.contact.notify_by == ["sms", "email"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        # A text message needs a mobile number: none, or a landline.
        ({"contact__notify_by": ["sms"], "contact__phone": ...}, "contact.phone", "选择短信通知的，须填写手机号码"),
        ({"contact__notify_by": ["sms"], "contact__phone": "0871-65432101"}, "contact.phone",
         "选择短信通知的，须填写手机号码"),
        ({"contact": {"phone": "13987654321", "notify_by": ["email"]}}, "contact.email",
         "选择电子邮件通知的，须填写电子邮箱"),
        ({"contact__notify_by": ["fax"]}, "contact.notify_by.0", "email"),
        # An empty choice would silence every notice: refused (leave the field out for the default).
        ({"contact__notify_by": []}, "contact.notify_by", "至少"),
    ],
)
def test_a_chosen_channel_needs_its_contact_detail(changes, field, message):
    errors = errors_of(app(**changes))
    assert any(e["field"] == field and message in e["message"] for e in errors), errors
