"""免证办 when the licence changes after use (this node is sh, issuer and handling
node at once): the case page shows each licence material's status at the issuer
and when it was checked; every decision checks it again; 准予 is refused while the
licence is revoked or suspended, with the reason on the page."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.factories import id_number, user_with
from tests.pages.test_identity_pages import application, outbox, resident, sign_in, texts
from tests.pages.test_licence_use_pages import FUND, FUND_SH, ID_PREFIX, deed_for
from tongban.cases.models import Case
from tongban.licences.models import CaseLicenceStatus
from tongban.licences.services import licence_status_change

__all__ = ["outbox"]
pytestmark = pytest.mark.django_db


def test_a_licence_revoked_after_use_is_shown_and_blocks_approval(client, region, outbox):
    applicant = resident("lina", assurance="L3")
    identifier = deed_for(region, id_number(ID_PREFIX))
    sign_in(client, applicant, outbox)
    fields = application(FUND, FUND_SH)
    fields.pop("m_M02", None)
    response = client.post(
        f"/apply/{FUND}/", {**fields, "l_M02": identifier, "licence_consent": "on"}
    )
    assert response.status_code == 302, texts(response)[-2000:]
    case = Case.objects.get()
    row = CaseLicenceStatus.objects.get(case_number=case.number)
    assert (row.material_code, row.status_at_use, row.status) == ("M02", "valid", "valid")

    official = user_with("fund.official", role="official", organization=region.org(FUND_SH))
    client.force_login(official)
    page = texts(client.get(f"/cases/{case.number}/"))
    assert "《不动产权证书》 证照状态：有效（核验于" in page

    # the deed is revoked after it was used
    deed_official = get_user_model().objects.get(username="deed.official")
    licence_status_change(
        user=deed_official, identifier=identifier, action="revoke", reason="不动产转移登记"
    )

    # 受理 goes on, and the case page now says so
    response = client.post(
        f"/cases/{case.number}/actions/accept/", {"accept-note": ""}, follow=True
    )
    case.refresh_from_db()
    assert case.status == "accepted", texts(response)[-2000:]
    page = texts(response)
    assert "证照状态：已吊销/注销" in page and "不能准予许可" in page
    assert "使用时为“有效”" in page

    # 准予 is refused with the reason; the case stays accepted
    response = client.post(
        f"/cases/{case.number}/actions/approve/",
        {"approve-note": "", "approve-confirm": "on"},
        follow=True,
    )
    case.refresh_from_db()
    assert case.status == "accepted"
    assert "申请使用的《不动产权证书》在发证机构的状态为“已吊销/注销”" in texts(response)
    assert "不能准予许可" in texts(response) and "一次性告知补正" in texts(response)

    # 不予许可 remains possible
    response = client.post(
        f"/cases/{case.number}/actions/deny/",
        {"deny-reason": "不动产权证书已注销", "deny-confirm": "on"},
        follow=True,
    )
    case.refresh_from_db()
    assert case.status == "denied", texts(response)[-2000:]
