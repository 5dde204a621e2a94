"""The OFD writer (GB/T 33190), checked by reading its files back with an independent reader.

The reader is easyofd (a PyPI package that shares no code with ours): it parses each OFD
package into text objects with their positions and draws the pages (through PyMuPDF), so
these tests compare what another program finds in our files with the layout we drew:

* every text run of the layout is there, on its page, in order, at its baseline, and each
  glyph at the x the PDF writer gives it (easyofd's own reading of X/DeltaX); the pages it
  draws hold the same characters in the same order (read from its drawing with PyMuPDF);
* the package is well-formed XML in the OFD namespace and every reference resolves (DocRoot,
  PublicRes, page BaseLocs, font IDs; unique IDs, none above MaxUnitID);
* the QR on the page easyofd renders is read by zxing-cpp and verifies as genuine.
"""

from __future__ import annotations

import io
import re
import sys
import zipfile
from xml.etree import ElementTree

import pytest
import segno
import zxingcpp

from tongban.directory.models import Organization
from tongban.documents import layout
from tongban.documents.ofd import NS, document_ofd, ofd_write
from tongban.documents.official import official_layout
from tongban.documents.services import document_issue, document_qr_text
from tongban.documents.verification import document_verify

# easyofd (a test dependency in requirements.lock) puts the working directory and its parent
# in front of sys.path when imported, and logs every step: keep both to itself
_path = list(sys.path)
import easyofd.ofd as easyofd  # noqa: E402
import fitz  # noqa: E402  (PyMuPDF, which easyofd draws pages with)
from loguru import logger  # noqa: E402

sys.path[:] = _path
logger.disable("easyofd")

Q = f"{{{NS}}}"
SCOPE = (
    "一般项目：技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广；软件开发；"
    "信息系统集成服务；数据处理和存储支持服务；会议及展览服务；"
)


def _documents() -> list:
    """Documents of several kinds, as the results code issues them (one long enough to
    flow onto a second page)."""
    org = Organization.objects.filter(node__node_id="sh").first()
    person = {"name": "张三", "id_masked": "3101**********0011"}
    company = {"name": "上海青浦通办科技有限公司", "id_masked": "91310118MA1JL0001X"}
    return [
        document_issue(
            kind="certificate",
            title="户籍事项证明",
            organization=org,
            subject=person,
            facts=[("证明事项", "亲属关系"), ("证明内容", "张三与李四系父子关系")],
            case_number="31011820261201000123",
            doc_number="青公证〔2026〕第000123号",
            body="经核查，上述内容属实。特此证明。",
        ),
        document_issue(
            kind="approval_decision",
            title="准予许可决定书",
            organization=org,
            subject=company,
            facts=[
                ("事项", "经营范围变更登记"),
                ("统一社会信用代码", "91310118MA1JL0001X"),
                ("变更前经营范围", "技术服务"),
                ("变更后经营范围", SCOPE * 40),
            ],
            case_number="31011820261201000124",
            body="你单位提出的申请符合法定条件、标准，决定准予许可。",
        ),
        document_issue(
            kind="denial_decision",
            title="不予许可决定书",
            organization=org,
            subject=person,
            facts=[("事项", "住房公积金提取"), ("理由", "申请材料不符合法定形式 <不全> & 未补正")],
            case_number="31011820261201000125",
            body="如不服本决定，可以在收到本决定书之日起六十日内申请行政复议，"
            "或者在六个月内依法提起行政诉讼。",
        ),
    ]


def _expected_runs(page: layout.Page) -> list[layout.Text]:
    return [item for item in page.items if isinstance(item, layout.Text) and item.text.strip()]


@pytest.fixture(scope="module", autouse=True)
def _reader_font():
    """easyofd draws every glyph in a font called 宋体 through reportlab; a machine without
    one makes reportlab search its AFM folders for each character (seconds per page) and
    draw nothing. Give it the Adobe CID font STSong-Light under that name, as a reader's
    machine has a 宋体."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if "宋体" not in pdfmetrics.getRegisteredFontNames():
        font = UnicodeCIDFont("STSong-Light")
        font.fontName = font.name = "宋体"
        pdfmetrics.registerFont(font)


def _read(content: bytes, tmp_path, monkeypatch):
    """easyofd's reading of an OFD package (it unpacks into the working directory)."""
    monkeypatch.chdir(tmp_path)
    reader = easyofd.OFD()
    reader.read(content, fmt="binary")
    return reader


def _glyph_xs(run: dict) -> list[float]:
    """Where easyofd places each glyph of a text run (its own reading of X and DeltaX)."""
    from easyofd.draw.draw_pdf import DrawPDF

    return DrawPDF.cmp_offset(None, run["pos"][0], run["X"], run["DeltaX"], run["text"], {}, "X")


def _check_package(content: bytes) -> dict[str, ElementTree.Element]:
    """Well-formed XML in the OFD namespace; every location and ID reference resolves."""
    package = zipfile.ZipFile(io.BytesIO(content))
    assert package.testzip() is None
    trees = {}
    for name in package.namelist():
        data = package.read(name)
        assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>'), name
        root = ElementTree.fromstring(data)  # noqa: S314 (our own writer's output)
        assert root.tag.startswith(Q), name
        trees[name] = root
    ofd = trees["OFD.xml"]
    assert ofd.get("Version") == "1.0" and ofd.get("DocType") == "OFD"
    doc_root = ofd.find(f"{Q}DocBody/{Q}DocRoot").text
    document = trees[doc_root]
    base = doc_root.rsplit("/", 1)[0]
    public_res = trees[f"{base}/{document.find(f'{Q}CommonData/{Q}PublicRes').text}"]
    font_ids = {font.get("ID") for font in public_res.iter(f"{Q}Font")}
    ids = [int(e.get("ID")) for root in trees.values() for e in root.iter() if e.get("ID")]
    assert len(ids) == len(set(ids)), "IDs are unique in the document"
    max_unit = int(document.find(f"{Q}CommonData/{Q}MaxUnitID").text)
    assert max(ids) == max_unit
    page_ids = [int(page.get("ID")) for page in document.iter(f"{Q}Page")]
    assert page_ids == sorted(page_ids)
    for page in document.iter(f"{Q}Page"):
        content_xml = trees[f"{base}/{page.get('BaseLoc')}"]
        object_ids = [int(e.get("ID")) for e in content_xml.iter() if e.get("ID")]
        assert object_ids == sorted(object_ids) and object_ids[0] > int(page.get("ID"))
        for text in content_xml.iter(f"{Q}TextObject"):
            assert text.get("Font") in font_ids
    return trees


def test_documents_read_back_by_an_independent_reader(region, tmp_path, monkeypatch):
    rendered = None
    for document in _documents():
        drawn = official_layout(document)
        content = document_ofd(document)
        assert content == document_ofd(document), "the same document gives the same file"

        trees = _check_package(content)
        info = trees["OFD.xml"].find(f"{Q}DocBody/{Q}DocInfo")
        assert len(info.find(f"{Q}DocID").text) == 32
        assert info.find(f"{Q}Title").text == document.title
        assert info.find(f"{Q}CreationDate").text == document.record["issued_at"][:10]
        custom = {e.get("Name"): e.text for e in info.iter(f"{Q}CustomData")}
        assert custom == {"document_id": document.document_id, "qr": document_qr_text(document)}

        reader = _read(content, tmp_path, monkeypatch)
        pages = reader.data[0]["page_info"]
        assert len(pages) == len(drawn.pages)
        if document.kind == "approval_decision":
            assert len(drawn.pages) >= 2, "the long 经营范围 flows onto another page"
        for number, page in enumerate(drawn.pages):
            runs = pages[number]["text_list"]
            expected = _expected_runs(page)
            # every text run, on its page, in the order drawn
            assert [r["text"] for r in runs] == [t.text.strip() for t in expected]
            for run, item in zip(runs, expected, strict=True):
                if item.rotate:  # the seal's characters turn about their anchor (CTM)
                    continue
                baseline = run["pos"][1] + float(run["Y"])
                assert baseline == pytest.approx(item.y, abs=0.01)
                width = layout.text_width(item.text, item.size)
                shift = {"start": 0.0, "middle": width / 2, "end": width}[item.anchor]
                xs = _glyph_xs(run)
                lead = len(item.text) - len(item.text.lstrip())  # an indent draws nothing
                want = [
                    item.x - shift + layout.text_width(item.text[:i], item.size)
                    for i in range(lead, len(item.text.rstrip()))
                ]
                assert xs == pytest.approx(want, abs=0.02), item.text

        # the pages as the reader draws them hold the same characters, in the same order
        drawn_pdf = reader.to_pdf()
        with fitz.open(stream=drawn_pdf, filetype="pdf") as reader_pages:
            for number, page in enumerate(drawn.pages):
                shown = re.sub(r"\s", "", reader_pages[number].get_text())
                assert shown == re.sub(r"\s", "", "".join(t.text for t in _expected_runs(page)))
        rendered = rendered or (document, reader, drawn_pdf)

    # the QR of the last page the reader draws scans and verifies
    document, reader, drawn_pdf = rendered
    image = reader.pdf2img(drawn_pdf)[-1]
    image = image.resize((image.width // 2, image.height // 2))
    found = [r.text for r in zxingcpp.read_barcodes(image)]
    assert found == [document_qr_text(document)]
    assert document_verify(found[0]).verdict == "genuine"


def _page_with(*items) -> layout.Document:
    return layout.Document(title="测试", pages=[layout.Page(items=list(items))])


def test_text_that_xml_would_choke_on_is_escaped_or_dropped(tmp_path, monkeypatch):
    doc = _page_with(
        layout.Text(20, 30, "A<B & \"C\" 'D'", 12),
        layout.Text(20, 40, "控制\x00字符\x1f", 12),
        layout.Text(20, 50, "   ", 12),  # nothing to draw: no object
    )
    content = ofd_write(doc)
    _check_package(content)
    runs = _read(content, tmp_path, monkeypatch).data[0]["page_info"][0]["text_list"]
    assert [r["text"] for r in runs] == ["A<B & \"C\" 'D'", "控制字符"]


def test_shapes_and_a_turned_text_are_well_formed_paths():
    symbol = segno.make("TBD1:test", error="m")
    doc = _page_with(
        layout.Line(10, 10, 100, 10, width=0.8, color=layout.RED),
        layout.Rect(10, 20, 50, 30, stroke=None, fill=(10, 20, 30)),
        layout.Circle(150, 150, 20, stroke=layout.RED),
        layout.Polygon([(10, 100), (20, 120), (0, 120)], fill=layout.RED),
        layout.QrCode(20, 200, 30, [[bool(v) for v in row] for row in symbol.matrix]),
        layout.Text(150, 130, "印", 10, rotate=90, anchor="middle"),
    )
    trees = _check_package(ofd_write(doc))
    page = trees["Doc_0/Pages/Page_0/Content.xml"]
    paths = list(page.iter(f"{Q}PathObject"))
    assert len(paths) == 5
    for path in paths:
        data = path.find(f"{Q}AbbreviatedData").text.split()
        assert data[0] == "M" and set(data) & {"L", "B"}
        x, y, w, h = map(float, path.get("Boundary").split())
        assert w > 0 and h > 0
    filled = paths[1]
    assert (filled.get("Stroke"), filled.get("Fill")) == ("false", "true")
    assert filled.find(f"{Q}FillColor").get("Value") == "10 20 30"
    assert paths[2].find(f"{Q}AbbreviatedData").text.count("B") == 4  # a circle: four Béziers
    turned = next(page.iter(f"{Q}TextObject"))
    a, b, c, d, e, f = map(float, turned.get("CTM").split())
    assert (a, b, c, d) == (0, 1, -1, 0)  # 90° clockwise
    # the first glyph starts where the PDF writer starts it: half the width above (150, 130)
    bx, by = map(float, turned.get("Boundary").split()[:2])
    code = turned.find(f"{Q}TextCode")
    x, y = float(code.get("X")), float(code.get("Y"))
    half = layout.text_width("印", 10) / 2
    assert (bx + a * x + c * y + e, by + b * x + d * y + f) == (
        pytest.approx(150, abs=0.01),
        pytest.approx(130 - half, abs=0.01),
    )


def test_a_layout_without_pages_is_refused():
    with pytest.raises(ValueError):
        ofd_write(layout.Document(title="空", pages=[]))


# --- downloads ------------------------------------------------------------------------------

DRIVING = "11100000000013338W003"  # 机动车驾驶证
HOLDER_ID = "31010419850612001"


@pytest.fixture
def driving_licence(region):
    from tests.factories import id_number, user_with
    from tongban.identity.services import person_upsert
    from tongban.licences import services as licence_services

    police = user_with("police.ofd", role="official", organization=region.org("上海市公安局"))
    person = person_upsert(name="陈静", id_number=id_number(HOLDER_ID), home_node="sh")
    holder = user_with("chenjing.ofd", person=person, assurance="L3")
    licence = licence_services.licence_issue(
        user=police,
        type_code=DRIVING,
        organization_code=region.org("上海市公安局").code,
        holder={"name": "陈静", "id_number": id_number(HOLDER_ID)},
        fields={
            "licence_number": "310104198506120011",
            "address": "上海市徐汇区漕溪北路88号",
            "birth_date": "1985-06-12",
            "first_issue_date": "2010-05-01",
            "vehicle_class": "C1",
            "valid_from": "2024-05-01",
            "valid_until": "2030-05-01",
        },
    )
    return licence, holder, police


def test_licence_files_download_as_ofd_for_who_may_see_them(
    client, driving_licence, tmp_path, monkeypatch
):
    from tests.factories import id_number, user_with

    licence, holder, police = driving_licence
    client.force_login(holder)
    page = client.get(f"/me/licences/{licence.identifier}/").content.decode()
    assert f"/me/licences/{licence.identifier}/ofd/" in page, "offered next to the PDF"
    mine = client.get(f"/me/licences/{licence.identifier}/ofd/")
    assert mine.status_code == 200
    assert mine["Content-Type"] == "application/ofd"
    assert "attachment" in mine["Content-Disposition"]
    assert ".ofd" in mine["Content-Disposition"] and "%E7%94%B5" in mine["Content-Disposition"]
    content = mine.content
    trees = _check_package(content)
    xml = b"".join(zipfile.ZipFile(io.BytesIO(content)).read(n) for n in trees).decode()
    assert id_number(HOLDER_ID) not in xml, "the 身份证号 is printed masked"
    runs = [
        r["text"]
        for page in _read(content, tmp_path, monkeypatch).data[0]["page_info"].values()
        for r in page["text_list"]
    ]
    assert "陈静" in runs and any("机动车驾驶证" in r for r in runs)
    info = trees["OFD.xml"].find(f"{Q}DocBody/{Q}DocInfo")
    qr = {e.get("Name"): e.text for e in info.iter(f"{Q}CustomData")}["qr"]
    assert document_verify(qr).verdict == "genuine"

    from tongban.identity.services import api_token_create

    _, token = api_token_create(user=holder, name="ofd")
    api = client.get(
        f"/api/v1/wallet/{licence.identifier}/ofd", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert api.status_code == 200 and api.content == content
    assert api["Content-Type"] == "application/ofd"

    client.force_login(police)
    page = client.get(f"/work/licences/{licence.identifier}/").content.decode()
    assert f"/work/licences/{licence.identifier}/ofd/" in page
    issued = client.get(f"/work/licences/{licence.identifier}/ofd/")
    assert issued.status_code == 200 and issued.content == content, "one file per version"

    stranger = user_with("stranger.ofd", person=None)
    client.force_login(stranger)
    assert client.get(f"/me/licences/{licence.identifier}/ofd/").status_code in (403, 404)
    assert client.get(f"/work/licences/{licence.identifier}/ofd/").status_code in (403, 404)
    client.logout()
    assert client.get(f"/me/licences/{licence.identifier}/ofd/").status_code == 302
