"""The node administrator's back office (Django admin) renders every registered model."""

from __future__ import annotations

import json

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import user_with


@pytest.fixture
def node_admin(region, api, client):
    envelope = region.case_submit_envelope(number="11310118TESTCASE0000001")
    assert api.post("/exchange/inbox", raw=json.dumps(envelope).encode()).status_code == 200
    admin_user = user_with("sh.admin", role="node_admin")
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    return client


def test_every_changelist_and_a_change_page_render(node_admin):
    for model in admin.site._registry:
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert node_admin.get(url).status_code == 200, url
        first = model.objects.first()
        if first is not None:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk])
            assert node_admin.get(change).status_code == 200, change


def test_person_search_uses_the_blind_index(node_admin):
    from tests.factories import id_number

    url = reverse("admin:identity_person_changelist")
    page = node_admin.get(url, {"q": id_number()}).content.decode()
    rows = page[page.index("<tbody>") : page.index("</tbody>")]
    rows = rows.replace(f"q%3D{id_number()}", "")  # links carry the admin's own query along
    assert ">3304**********" in rows and id_number() not in rows


def test_admin_is_closed_to_other_staff(region, client):
    clerk = user_with("clerk", role="clerk", window=region.window("sh-310118-01"))
    client.force_login(clerk)
    response = client.get(reverse("admin:cases_case_changelist"))
    assert response.status_code == 302  # to the admin login


def test_licence_pages_render_without_personal_identifiers(node_admin, region):
    from tests.factories import id_number
    from tongban.licences.models import Licence, LicenceType
    from tongban.licences.services import licence_issue

    licence_type = LicenceType.objects.get(name="居民户口簿")
    holder_id = id_number("31010419850612001")
    licence_issue(
        user=None,
        type_code=licence_type.code,
        organization_code=region.org("上海市公安局").code,
        holder={"name": "陈静", "id_number": holder_id},
        fields={
            f["key"]: ("2020-01-01" if f["kind"] == "date" else "示例")
            for f in licence_type.fields
            if not f.get("same_as")
        },
    )
    for name in ("licence", "walletentry", "licencetype", "licencecounter"):
        model = {"licence": Licence}.get(name)
        url = reverse(f"admin:licences_{name}_changelist")
        assert node_admin.get(url).status_code == 200
        if model is not None:
            page = node_admin.get(
                reverse(f"admin:licences_{name}_change", args=[model.objects.get().pk])
            )
            assert page.status_code == 200 and holder_id not in page.content.decode()
