"""The back office shows the mirrored sharing catalog read only, and no sample content."""

from __future__ import annotations

from django.urls import reverse

from tests.factories import user_with
from tongban.identity.demo_accounts import PERSONS
from tongban.sharing.samples import sharing_samples_generate
from tongban.sharing.services import sharing_catalog_load_seed


def test_dataset_and_sample_pages(region, client):
    sharing_catalog_load_seed()
    sharing_samples_generate(node_id="js")
    admin_user = user_with("sh.admin", role="node_admin")
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    page = client.get(reverse("admin:sharing_dataset_change", args=["js.marriage"]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "配偶姓名" in text and "核验购房提取条件" in text
    assert client.get(reverse("admin:sharing_dataset_add")).status_code == 403
    samples = client.get(reverse("admin:sharing_samplerecord_changelist")).content.decode()
    assert "js.marriage" in samples
    assert "王建国" not in samples and PERSONS["zj"][2] not in samples
