"""免证办 through the application pages (this node is sh): the online form offers
the licences in the applicant's wallet, the window form takes the 亮证 code the
applicant shows; consent is asked for; the case page shows the licence."""

from __future__ import annotations

import pytest

from tests.factories import id_number, user_with
from tests.pages.test_identity_pages import application, html, outbox, resident, sign_in, texts
from tongban.cases.models import Case, CaseMaterial
from tongban.licences.models import LicenceType
from tongban.licences.services import licence_issue, presentation_create

__all__ = ["outbox"]
pytestmark = pytest.mark.django_db
FUND = "000530001000"  # 异地购房提取住房公积金 — M02 不动产权证书
FUND_SH = "上海市公积金管理中心"
ID_PREFIX = "31022919880512456"


def deed_for(region, holder_id: str) -> str:
    licence_type = LicenceType.objects.get(name="不动产权证书")
    official = user_with(
        "deed.official", role="official", organization=region.org("上海市黄浦区行政服务中心")
    )
    licence = licence_issue(
        user=official,
        type_code=licence_type.code,
        organization_code=region.org("上海市黄浦区行政服务中心").code,
        holder={"name": "李娜", "id_number": holder_id},
        fields={
            f["key"]: ("2020-01-01" if f["kind"] == "date" else "沪(2026)黄浦区不动产权第0001号")
            for f in licence_type.fields
            if not f.get("same_as")
        },
    )
    return licence.identifier


def test_online_form_offers_the_wallet_and_asks_for_consent(client, region, outbox):
    user = resident("lina", assurance="L3")
    identifier = deed_for(region, id_number(ID_PREFIX))
    sign_in(client, user, outbox)
    page = client.get(f"/apply/{FUND}/")
    assert "电子证照（免证办）" in texts(page) and identifier in html(page)

    def data(**extra):  # fresh files each time: an upload is read once
        fields = application(FUND, FUND_SH)
        fields.pop("m_M02", None)
        return {**fields, "l_M02": identifier, **extra}

    # no consent: nothing is created, the reason is shown
    response = client.post(f"/apply/{FUND}/", data())
    assert response.status_code == 400 and not Case.objects.exists()
    assert "同意" in texts(response)
    # neither a file nor a licence for a required material
    response = client.post(f"/apply/{FUND}/", data(l_M02=""))
    assert response.status_code == 400 and "选择电子证照代替" in texts(response)

    response = client.post(f"/apply/{FUND}/", data(licence_consent="on"), follow=True)
    assert Case.objects.exists(), texts(response)[-3000:]
    case = Case.objects.get()
    assert response.redirect_chain[-1][0] == f"/cases/{case.number}/"
    material = CaseMaterial.objects.get(case=case, material_code="M02")
    assert material.licence_state == "verified"
    assert "免交（电子证照）" in texts(response) and "《不动产权证书》" in texts(response)

    # the deciding official sees the licence data on the case page
    client.force_login(
        user_with("fund.official", role="official", organization=region.org(FUND_SH))
    )
    page = texts(client.get(f"/cases/{case.number}/"))
    assert "沪(2026)黄浦区不动产权第0001号" in page
    assert id_number(ID_PREFIX) not in page  # the holder's ID number stays masked


def test_window_takes_the_code_the_applicant_shows(client, region, outbox):
    holder = resident("lina", assurance="L3")
    identifier = deed_for(region, id_number(ID_PREFIX))
    qr = presentation_create(
        user=holder, identifier=identifier, fields=["holder_name", "holder_id", "licence_number"]
    )["qr_text"]
    clerk = user_with("huangpu.clerk", role="clerk", window=region.window("sh-310101-01"))
    client.force_login(clerk)
    page = client.get(f"/window/apply/{FUND}/")
    assert "亮证码" in texts(page)
    data = application(FUND, FUND_SH)
    data.pop("m_M02", None)
    data.update(
        {
            "window": "sh-310101-01",
            "applicant_name": "李娜",
            "applicant_id_number": id_number(ID_PREFIX),
            "applicant_phone": "13801761234",
            "identity_verified": "on",
            "f_applicant_name": "李娜",
            "f_applicant_id_number": id_number(ID_PREFIX),
            "f_contact_phone": "13801761234",
            "l_M02": qr,
            "licence_consent": "on",
        }
    )
    response = client.post(f"/window/apply/{FUND}/", data, follow=True)
    assert response.status_code == 200, texts(response)[:2000]
    case = Case.objects.get()
    material = CaseMaterial.objects.get(case=case, material_code="M02")
    assert material.licence_identifier == identifier and material.licence_state == "verified"
    assert material.licence_consent["document"]["granted_by"]["channel"] == "window"
