"""The multi-error form path in a real browser on a phone (390×844).

At the 嘉善 window (zj) a clerk submits an application with five mistakes at
once — a wrong 身份证号, a wrong phone, a 注册资本 in words, a file of the wrong
type and a missing material — and gets all five back in one answer, each next
to its field and listed in the summary; the three good files are kept
("已上传 公司章程.pdf … · 更换"). The second submit sends only the two missing
files and goes through: the case has all five materials.

Needs Debian's chromium (/usr/bin/chromium); uses the shared live region.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.support import PDF, PHONE, Actor
from tongban.identity.demo_accounts import PERSONS

pytestmark = pytest.mark.browser

ESTABLISHMENT = "000301001000"  # 内资有限公司设立登记
QINGPU_AMR = "上海市青浦区市场监督管理局"


def test_every_error_at_once_and_the_files_are_kept(live_region, browser, tmp_path):
    zj = live_region.url("zj")
    _username, name, id_number, phone = PERSONS["zj"]
    files = {}
    for code, filename in (
        ("M01", "公司登记申请书.pdf"),
        ("M02", "公司章程.pdf"),
        ("M03", "股东身份证.pdf"),
        ("M04", "任职文件.pdf"),
        ("M05", "住所使用证明.pdf"),
    ):
        files[code] = tmp_path / filename
        files[code].write_bytes(PDF + f"% {code}\n".encode() + b"%" * 10_500)
    not_a_pdf = tmp_path / "股东身份证.pdf.txt"
    not_a_pdf.write_bytes("这不是 PDF 文件\n".encode() * 20)

    clerk = Actor(browser, zj, PHONE, "jiashan.clerk")
    clerk.allowed_errors.append("status of 400")  # the form with errors answers 400 on purpose
    clerk.login("jiashan.clerk")
    clerk.goto(f"/window/apply/{ESTABLISHMENT}/")
    form = clerk.page
    # every required material is marked, also those an e-licence may replace
    for code in ("M01", "M02", "M03", "M04", "M05"):
        assert form.locator(f'label[for="id_m_{code}"]').get_attribute("class") == "required"
    # the applicant block is the only place the applicant is asked for
    assert form.locator('[name="f_contact_phone"], [name="f_applicant_name"]').count() == 0

    form.get_by_label("办理机构", exact=True).select_option(label=f"{QINGPU_AMR}（上海）")
    form.get_by_label("申请人姓名", exact=True).fill(name)
    form.get_by_label("身份证号", exact=True).fill(
        id_number[:-1] + ("0" if id_number[-1] != "0" else "1")
    )
    form.get_by_label("手机号码", exact=True).fill("1390573")
    form.get_by_label("已当面核验身份", exact=True).check()
    form.get_by_label("企业名称", exact=True).fill("上海青禾数字科技有限公司")
    form.get_by_label("注册资本（万元）", exact=True).fill("五百万")
    form.get_by_label("经营范围", exact=True).fill("技术服务、技术开发、技术咨询")
    form.get_by_label("住所", exact=True).fill("上海市青浦区华新镇华腾路1288号")
    form.get_by_label("法定代表人", exact=True).fill(name)
    form.get_by_label("公司类型", exact=True).select_option(index=1)
    for code in ("M01", "M02", "M04"):
        form.locator(f"#id_m_{code}").set_input_files(str(files[code]))
    form.locator("#id_m_M03").set_input_files(str(not_a_pdf))
    # M05 is forgotten
    form.get_by_role("button", name="提交并转送").click()
    form.wait_for_load_state()

    # --- one answer with every mistake ---------------------------------------------------------
    assert form.url.endswith(f"/window/apply/{ESTABLISHMENT}/")
    wrong = {
        "id_applicant_id_number": "身份证号码无效",
        "id_applicant_phone": "手机号码格式不正确",
        "id_f_registered_capital": "应为数字",
        "id_m_M03": "只接受",
        "id_m_M05": "请上传“住所使用证明”",
    }
    summary = form.locator(".form-errors")
    assert summary.is_visible()
    for field_id, message in wrong.items():
        field = form.locator(f"#{field_id}")
        assert field.get_attribute("aria-invalid") == "true", field_id
        # the message is next to the field, inside its own block
        block = form.locator(f"div.field:has(#{field_id})")
        assert message in block.inner_text(), (field_id, block.inner_text())
        assert summary.locator(f'a[href="#{field_id}"]').count() == 1, field_id
    for code in ("M01", "M02", "M04"):
        assert form.locator(f"#id_m_{code}").get_attribute("aria-invalid") is None, code
    # the good files are kept, with name and size, and can be replaced
    kept = form.locator("div.field:has(#id_m_M02) .draft-file").inner_text()
    assert re.search(r"已上传\s+公司章程\.pdf\s+10\.\d KB\s+·\s+更换", kept), kept
    assert "公司登记申请书.pdf" in clerk.text() and "任职文件.pdf" in clerk.text()
    # the summary's link takes the clerk to the field
    summary.locator('a[href="#id_m_M05"]').click()
    assert form.evaluate("location.hash") == "#id_m_M05"
    clerk.assert_fits_the_screen()
    clerk.screenshot("form-errors-01-zj-window-every-error-phone")

    # --- the second round: only what was wrong ------------------------------------------------
    form.get_by_label("身份证号", exact=True).fill(id_number)
    form.get_by_label("手机号码", exact=True).fill(phone)
    form.get_by_label("注册资本（万元）", exact=True).fill("500")
    form.locator("#id_m_M03").set_input_files(str(files["M03"]))
    form.locator("#id_m_M05").set_input_files(str(files["M05"]))
    assert form.get_by_label("已当面核验身份", exact=True).is_checked()  # kept
    form.get_by_role("button", name="提交并转送").click()
    form.wait_for_load_state()

    match = re.search(r"/cases/([^/]+)/(#.*)?$", form.url)
    assert match, f"no case page: {form.url}\n{clerk.text()[:2000]}"
    text = clerk.text()
    assert f"已转送 {QINGPU_AMR}" in text
    for path in files.values():
        assert path.name in text, path.name
    clerk.assert_fits_the_screen()
    clerk.screenshot("form-errors-02-zj-case-with-kept-files-phone")
    clerk.close()
