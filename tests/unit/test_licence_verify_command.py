"""`tongban verify`: a QR image through a real decoder (zxing-cpp) or QR text;
exit status 0 only for a valid presentation."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tests.api.test_licences_api import issue, show
from tongban.licences import formats
from tongban.licences.qr_images import qr_png, qr_text_from_image


@pytest.fixture
def police(region):
    from tests.api.test_licences_api import SH_POLICE
    from tests.factories import user_with

    return user_with("police.official", role="official", organization=region.org(SH_POLICE))


@pytest.fixture
def holder(region):
    from tests.api.test_licences_api import SH_ID
    from tests.factories import id_number, user_with
    from tongban.identity.services import person_upsert

    return user_with(
        "chenjing",
        person=person_upsert(name="陈静", id_number=id_number(SH_ID), home_node="sh"),
        assurance="L3",
    )


def run_verify(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("verify", *args, stdout=out, stderr=err)
    return exit_.value.code, out.getvalue(), err.getvalue()


def test_rendered_qr_image_round_trips_through_zxing(region, api, police, holder, tmp_path):
    licence = issue(api, police, region)
    text = show(api, holder, licence["identifier"], fields=["holder_name", "vehicle_class"])
    png = qr_png(text, scale=3)
    assert qr_text_from_image(png) == text  # the decoder reads back exactly what was drawn
    image = tmp_path / "qr.png"
    image.write_bytes(png)
    code, out, _ = run_verify(str(image))
    assert code == 0, out
    assert "有效" in out and "陈静" in out and "机动车驾驶证" in out
    # alphanumeric mode keeps the code small enough for a phone screen
    import segno

    assert segno.make(text, error="l").mode == "alphanumeric"


def test_exit_status_is_non_zero_for_anything_but_valid(region, api, police, holder, tmp_path):
    licence = issue(api, police, region)
    text = show(api, holder, licence["identifier"])
    assert run_verify(text)[0] == 0
    api.login(police).post(f"/licences/issued/{licence['identifier']}/revoke", {"reason": "吊销"})
    code, out, _ = run_verify(text, "--json")
    assert code == 1 and '"verdict": "revoked"' in out
    document = formats.qr_decode(text)
    document["disclosures"] = [formats.disclosure_make("holder_name", "李四")]
    assert run_verify(formats.qr_encode(document))[0] == 1
    assert run_verify("not a code")[0] == 1
    not_image = tmp_path / "x.png"
    not_image.write_bytes(b"\x89PNG garbage")
    code, _, err = run_verify(str(not_image))
    assert code == 2 and "图片" in err
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("L", (200, 200), 255).save(blank)
    code, _, err = run_verify(str(blank))
    assert code == 2 and "二维码" in err
