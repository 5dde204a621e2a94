"""Fill a freshly prepared region with a realistic spread of cases in every
state — through the same HTTP API a province's own systems would use."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import time

import requests
from stdnum.cn import ric

from tongban.identity.demo_accounts import DEMO_PASSWORD, PERSONS
from tongban.region import ApiClient, Region

ESTABLISHMENT = "000301001000"  # 内资有限公司设立登记
CRIMINAL_RECORD = "000501002000"  # 有无犯罪记录证明
HOUSEHOLD = "000501001000"  # 户籍事项证明
SCOPE_CHANGE = "000302001000"  # 内资有限公司经营范围变更登记
PENSION_TRANSFER = "000520001000"  # 城镇职工基本养老保险关系转移接续（接续办）
GRADUATE_HUKOU = "000501003000"  # 大中专学生毕业户口迁移（接续办）
NEWBORN = "000550001000"  # 新生儿出生“一件事”（集成办）
BUSINESS_START = "000300001000"  # 企业开办“一件事”（集成办）

# A minimal valid PDF and PNG for sample materials.
SAMPLE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
SAMPLE_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

COMPANY_NAMES = itertools.cycle(
    [
        "上海青禾数字科技有限公司",
        "上海澜湾食品贸易有限公司",
        "上海淀山湖文旅发展有限公司",
        "上海西岑智能装备有限公司",
        "上海朱家角文化传媒有限公司",
        "上海华新供应链管理有限公司",
        "嘉兴禾城新材料有限公司",
        "苏州松陵网络科技有限公司",
        "合肥庐州生物医药有限公司",
        "上海练塘农业科技有限公司",
        "上海金泽工程咨询有限公司",
    ]
)
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"
GIVEN = ["一鸣", "思远", "雨桐", "浩然", "佳怡", "子涵", "梓萱", "俊杰"]


def material_payload(item: dict, *, only: list[str] | None = None) -> list[dict]:
    out = []
    for m in item["materials"]:
        if only is not None and m["code"] not in only:
            continue
        if only is None and not m["required"]:
            continue
        pdf = "pdf" in m["file_types"]
        content = SAMPLE_PDF + m["code"].encode() if pdf else SAMPLE_PNG
        out.append(
            {
                "material_code": m["code"],
                "filename": f"{m['name']}.{'pdf' if pdf else 'png'}",
                "content_base64": base64.b64encode(content).decode(),
            }
        )
    return out


def form_payload(item: dict, applicant: dict, company: str) -> dict:
    values = {}
    for f in item["form"]:
        kind, name = f["type"], f["name"]
        if name == "company_name":
            values[name] = company
        elif name == "registered_capital":
            values[name] = "500"
        elif name == "business_scope":
            values[name] = "一般项目：技术服务、技术开发、技术咨询；软件开发；信息系统集成服务。"
        elif name == "address":
            values[name] = "上海市青浦区华新镇华腾路1288号1幢2层"
        elif name == "legal_representative":
            values[name] = applicant["name"]
        elif kind == "select":
            values[name] = f["choices"][0]
        elif kind == "id_number":
            values[name] = applicant["id_number"]
        elif kind == "phone":
            values[name] = applicant["phone"]
        elif kind == "date":
            values[name] = dt.date.today().isoformat()
        elif kind in ("decimal", "integer"):
            values[name] = "1"
        elif kind == "uscc":
            continue
        elif name.endswith("name"):
            values[name] = applicant["name"]
        else:
            values[name] = "示例内容"
    return values


def sample_applicant(i: int, region: str) -> dict:
    base = f"{region}{1985 + i % 20:04d}{1 + i % 12:02d}{1 + i % 28:02d}{100 + i:03d}"
    return {
        "name": SURNAMES[i % len(SURNAMES)] + GIVEN[i % len(GIVEN)],
        "id_number": base + ric.calc_check_digit(base + "0"),
        "phone": f"139{i:08d}",
    }


def wait_for(fn, *, timeout: float = 60, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.3)
    raise TimeoutError(f"timed out waiting for {what}")


# (origin node, window, clerk, handling node, official, organization, item, final path)
PLAN = [
    (
        "zj",
        "zj-330421-01",
        "jiashan.clerk",
        "sh",
        "qingpu.official",
        "上海市青浦区市场监督管理局",
        ESTABLISHMENT,
        [
            "submitted",
            "submitted",
            "supplement",
            "accept",
            "approve",
            "approve",
            "refuse",
            "deny",
            "supply",
        ],
    ),
    (
        "sh",
        "sh-310118-01",
        "qingpu.clerk",
        "zj",
        "jiaxing.official",
        "嘉兴市市场监督管理局",
        ESTABLISHMENT,
        ["submitted", "accept", "approve"],
    ),
    (
        "js",
        "js-320509-01",
        "wujiang.clerk",
        "ah",
        "hefei.official",
        "合肥市市场监督管理局",
        ESTABLISHMENT,
        ["submitted", "supplement", "approve"],
    ),
    (
        "ah",
        "ah-340100-01",
        "hefei.clerk",
        "js",
        "suzhou.official",
        "苏州市市场监督管理局",
        ESTABLISHMENT,
        ["accept", "deny", "approve"],
    ),
    (
        "zj",
        "zj-330421-01",
        "jiashan.clerk",
        "sh",
        "sh.police.official",
        "上海市公安局",
        CRIMINAL_RECORD,
        ["submitted", "approve"],
    ),
]


def seed_region(region: Region, log=print) -> int:
    clients: dict[tuple[str, str], ApiClient] = {}

    def client(node: str, user: str) -> ApiClient:
        if (node, user) not in clients:
            clients[(node, user)] = ApiClient(region.url(node), user, DEMO_PASSWORD)
        return clients[(node, user)]

    created = 0
    counter = itertools.count()
    for origin, window, clerk, handling, official, org_name, item_code, paths in PLAN:
        c = client(origin, clerk)
        item = c.get(f"/items/{item_code}").json()
        org = next(
            i["organization"] for i in item["implementations"] if i["organization_name"] == org_name
        )
        o = client(handling, official)
        for path in paths:
            i = next(counter)
            if i % 4 == 0 and origin in PERSONS:
                _, name, id_number, phone = PERSONS[origin]
                applicant = {"name": name, "id_number": id_number, "phone": phone}
            else:
                applicant = sample_applicant(
                    i, {"zj": "330421", "sh": "310101", "js": "320102", "ah": "340104"}[origin]
                )
            r = c.post(
                "/cases",
                {
                    "window": window,
                    "item": item_code,
                    "organization": org,
                    "applicant": applicant,
                    "form": form_payload(item, applicant, next(COMPANY_NAMES)),
                    "materials": material_payload(item),
                },
            )
            r.raise_for_status()
            number = r.json()["number"]
            created += 1
            wait_for(
                lambda n=number, o=o: o.get(f"/cases/{n}").status_code == 200,
                what=f"{number} at {handling}",
            )
            if path == "submitted":
                continue
            if path in ("supplement", "supply"):
                o.post(
                    f"/cases/{number}/request-supplements",
                    {
                        "missing": [
                            {
                                "material_code": item["materials"][1]["code"],
                                "note": "请提供加盖公章的清晰扫描件",
                            }
                        ],
                        "note": "材料不清晰，请补正",
                    },
                ).raise_for_status()
                if path == "supply":
                    wait_for(
                        lambda n=number, c=c: (
                            c.get(f"/cases/{n}").json()["status"] == "supplement_requested"
                        ),
                        what="supplement request at origin",
                    )
                    c.post(
                        f"/cases/{number}/supply",
                        {
                            "materials": material_payload(
                                item, only=[item["materials"][1]["code"]]
                            ),
                            "note": "已补正",
                        },
                    ).raise_for_status()
                continue
            if path == "refuse":
                o.post(
                    f"/cases/{number}/refuse",
                    {"reason": "该企业名称与已登记企业名称相同，不予受理"},
                ).raise_for_status()
                continue
            o.post(f"/cases/{number}/accept", {"note": "材料齐全，予以受理"}).raise_for_status()
            if path == "approve":
                o.post(f"/cases/{number}/approve", {"note": "准予设立登记"}).raise_for_status()
            elif path == "deny":
                o.post(
                    f"/cases/{number}/deny", {"reason": "经营范围含需前置审批项目，未提交批准文件"}
                ).raise_for_status()
        log(f"  {origin} {window} → {handling} {org_name}: {len(paths)} cases")
    licences = seed_licences(client)
    log(f"  e-licences: {licences} issued (wallets at the holders' home nodes)")
    results = seed_results(client)
    for line in results:
        log(f"  {line}")
    composites = seed_composites(client, demo_officials(region))
    for line in composites:
        log(f"  {line}")
    sharing = seed_data_sharing(client, region)
    for line in sharing:
        log(f"  {line}")
    return created + len(results) + len(composites) + 1


# (issuing node, official, organization, type, holder (PERSONS key), face data)
LICENCES = [
    (
        "js",
        "wujiang.official",
        "苏州市吴江区行政审批局",
        "不动产权证书",
        "zj",
        {
            "licence_number": "苏(2026)苏州市吴江区不动产权第0021568号",
            "unit_number": "320509001001GB00021F00011203",
            "location": "吴江区松陵镇中山南路1888号3幢1203室",
            "right_type": "国有建设用地使用权/房屋所有权",
            "right_nature": "出让/商品房",
            "usage": "城镇住宅用地/住宅",
            "area": "共有宗地面积12000.5㎡/房屋建筑面积98.6㎡",
            "registered_on": "2026-03-18",
        },
    ),
    (
        "sh",
        "sh.police.official",
        "上海市公安局",
        "机动车驾驶证",
        "zj",
        {
            "licence_number": "330421199003071236",
            "address": "浙江省嘉善县罗星街道",
            "birth_date": "1990-03-07",
            "first_issue_date": "2012-06-15",
            "vehicle_class": "C1",
            "valid_from": "2024-06-15",
            "valid_until": "2030-06-15",
            "file_number": "310012345678",
        },
    ),
    (
        "js",
        "js.hrss.official",
        "江苏省人力资源和社会保障厅",
        "社会保障卡",
        "zj",
        {
            "licence_number": "K32050012",
            "issuing_region": "江苏省苏州市",
            "bank_name": "中国银行",
            "issued_on": "2025-01-10",
            "valid_until": "2035-01-10",
        },
    ),
    (
        "zj",
        "zj.police.official",
        "浙江省公安厅",
        "居民户口簿",
        "zj",
        {
            "licence_number": "330421001234",
            "household_type": "家庭户",
            "householder_name": "张伟",
            "relationship_to_householder": "户主",
            "address": "浙江省嘉善县罗星街道亭桥北路88号",
            "registration_authority": "嘉善县公安局罗星派出所",
            "issued_on": "2015-09-01",
        },
    ),
    (
        "sh",
        "sh.police.official",
        "上海市公安局",
        "机动车驾驶证",
        "sh",
        {
            "licence_number": "310229198805124565",
            "address": "上海市青浦区华新镇",
            "birth_date": "1988-05-12",
            "first_issue_date": "2010-09-01",
            "vehicle_class": "C1",
            "valid_from": "2022-09-01",
            "valid_until": "2028-09-01",
            "file_number": "310098765432",
        },
    ),
]


def seed_licences(client) -> int:
    """A few e-licences issued by authorities in one province to residents of
    another, so that wallets, 亮证 and 免证办 can be tried at once."""
    issued = 0
    for node, official, org_name, type_name, holder, fields in LICENCES:
        c = client(node, official)
        configuration = c.get("/global-configuration").json()["configuration"]
        org = next(o["code"] for o in configuration["organizations"] if o["name"] == org_name)
        type_code = next(
            t["code"] for t in configuration["licence_types"] if t["name"] == type_name
        )
        _, name, id_number, _phone = PERSONS[holder]
        if type_name == "社会保障卡":  # the 社会保障号码 is the holder's 身份证号
            fields = {**fields, "social_security_number": id_number}
        # the face's 有效期 dates are the licence's validity: the issuing node derives
        # valid_from/valid_to from them (one value on the page, the PDF and the QR)
        r = c.post(
            "/licences",
            {
                "type": type_code,
                "organization": org,
                "holder": {"name": name, "id_number": id_number},
                "fields": fields,
            },
        )
        r.raise_for_status()
        issued += 1
    return issued


def _window_case(c: ApiClient, item: dict, org: str, applicant: dict, form: dict) -> str:
    r = c.post(
        "/cases",
        {
            "window": "zj-330421-01",
            "item": item["basic_code"],
            "organization": org,
            "applicant": applicant,
            "form": form,
            "materials": material_payload(item),
        },
    )
    r.raise_for_status()
    return r.json()["number"]


def seed_results(client) -> list[str]:
    """Two results that say something, taken at the 嘉善 (zj) window and decided in
    Shanghai: a 户籍事项证明 whose content the police official confirms, and a
    经营范围变更 of a company 青浦 registered, which issues the 营业执照's next version."""
    clerk = client("zj", "jiashan.clerk")
    _, name, id_number, phone = PERSONS["zj"]
    applicant = {"name": name, "id_number": id_number, "phone": phone}
    lines = []

    item = clerk.get(f"/items/{HOUSEHOLD}").json()
    police_org = next(
        i["organization"]
        for i in item["implementations"]
        if i["organization_name"] == "上海市公安局"
    )
    form = {
        "applicant_name": name,
        "applicant_id_number": id_number,
        "contact_phone": phone,
        "proof_kind": "亲属关系",
        "purpose": "办理继承公证",
    }
    names = {f["name"] for f in item["form"]}
    number = _window_case(
        clerk, item, police_org, applicant, {k: v for k, v in form.items() if k in names}
    )
    police = client("sh", "sh.police.official")
    wait_for(lambda: police.get(f"/cases/{number}").status_code == 200, what=number)
    police.post(f"/cases/{number}/accept", {"note": "材料齐全"}).raise_for_status()
    police.post(
        f"/cases/{number}/approve",
        {"result": {"content": f"{name}与张建国系父子关系（依据户籍档案核实）"}},
    ).raise_for_status()
    lines.append(f"zj 嘉善 → sh 上海市公安局: 户籍事项证明 {number} (证明 issued)")

    # a company 青浦 registered (its 营业执照 is at sh) changes its business scope
    qingpu = client("sh", "qingpu.official")
    registered = qingpu.get("/cases", status="approved").json()["results"]
    company = next(
        (
            qingpu.get(f"/cases/{c['number']}").json()["result"]["document"]
            for c in registered
            if c["item"] == ESTABLISHMENT
        ),
        None,
    )
    if company is None:
        return lines
    item = clerk.get(f"/items/{SCOPE_CHANGE}").json()
    org = next(
        i["organization"]
        for i in item["implementations"]
        if i["organization_name"] == "上海市青浦区市场监督管理局"
    )
    form = {
        "company_name": company["name"],
        "uscc": company["uscc"],
        "contact_name": name,
        "contact_phone": phone,
        "new_business_scope": company["business_scope"] + "人工智能应用软件开发。",
        "resolution_date": dt.date.today().isoformat(),
    }
    number = _window_case(clerk, item, org, applicant, form)
    wait_for(lambda: qingpu.get(f"/cases/{number}").status_code == 200, what=number)
    qingpu.post(f"/cases/{number}/accept", {}).raise_for_status()
    qingpu.post(f"/cases/{number}/approve", {}).raise_for_status()
    lines.append(
        f"zj 嘉善 → sh 青浦: 经营范围变更 {number} ({company['name']}: 营业执照 version 2)"
    )
    return lines


# --- 数据共享: 数据核验 on a case, the person's data-use log, a flag answered --------------

FUND = "000530001000"  # 异地购房提取住房公积金: 不动产登记信息 and 婚姻登记信息 replace papers
HEFEI_FUND = "合肥住房公积金管理中心"


def _resident_client(region: Region, node: str, username: str) -> ApiClient:
    """A resident's API client: password and the SMS code the node "sent" (printed in its
    log). A node sends one code a minute per account: wait for the next if need be."""
    for attempt in range(3):
        try:
            return ApiClient(
                region.url(node), username, DEMO_PASSWORD, otp=lambda: region.last_sms_code(node)
            )
        except requests.HTTPError as exc:
            if exc.response is None or exc.response.status_code != 429 or attempt == 2:
                raise
            time.sleep(61)
    raise AssertionError("unreachable")


def seed_data_sharing(client, region: Region) -> list[str]:
    """张伟 (zj) applies at the 合肥 (ah) window for 异地购房提取住房公积金 without his
    不动产权证书: ah asks sh's 不动产登记信息 and js's 婚姻登记信息 (real data.query through
    the exchange); both uses reach his 数据使用记录 at home. He questions one of them and
    the 数据专员 of 合肥住房公积金管理中心 answers; ah signs a checkpoint its witnesses
    cosign at once (the workers keep doing so), so the proofs follow."""
    clerk = client("ah", "hefei.clerk")
    _, name, id_number, phone = PERSONS["zj"]
    item = clerk.get(f"/items/{FUND}").json()
    org = _implementation_of(item, HEFEI_FUND)
    r = clerk.post(
        "/cases",
        {
            "window": "ah-340100-01",
            "item": FUND,
            "organization": org,
            "applicant": {"name": name, "id_number": id_number, "phone": phone},
            "form": {
                "applicant_name": name,
                "applicant_id_number": id_number,
                "contact_phone": phone,
                "house_region": "310118",
                "amount": "60000",
                "bank_account": "6222020000000000002",
            },
            # M02 不动产权证书 left out: 免交（数据核验）
            "materials": material_payload(item, only=["M01", "M03"]),
        },
    )
    r.raise_for_status()
    number = r.json()["number"]
    official = client("ah", "hefei.fund.official")

    def answered():
        checks = official.get(f"/cases/{number}/data-checks").json()["checks"]
        done = [c for c in checks if c["status"] != "pending"]
        return checks if len(checks) >= 2 and len(done) == len(checks) else None

    checks = wait_for(answered, what=f"the data checks of {number}")
    official.post(f"/cases/{number}/accept", {"note": "数据核验通过，予以受理"}).raise_for_status()
    lines = [
        f"ah 合肥 window → {HEFEI_FUND}: 公积金提取 {number}, 数据核验 "
        + "、".join(f"{c['dataset_name']}（{c['source_node']}）{c['status_label']}" for c in checks)
    ]
    person = _resident_client(region, "zj", PERSONS["zj"][0])

    def uses():
        rows = person.get("/me/data-uses", kind="data_query").json()["results"]
        rows = [u for u in rows if u["case_number"] == number]
        return rows if len(rows) >= 2 else None

    marriage = next(
        u for u in wait_for(uses, what="uses at zj") if u["dataset_code"] == "js.marriage"
    )
    person.post(
        f"/me/data-uses/{marriage['use_id']}/flag",
        {"reason": "我已提交购房合同，不清楚为何还要查询我的婚姻登记信息"},
    ).raise_for_status()
    officer = client("ah", "hefei.fund.data")
    flag = wait_for(
        lambda: next(
            (
                f
                for f in officer.get("/data-officer/flags").json()["results"]
                if f["use_id"] == marriage["use_id"]
            ),
            None,
        ),
        what="the flag at ah",
    )
    officer.post(
        f"/data-officer/flags/{flag['flag_id']}/answer",
        {
            "answer": "异地购房提取须核验购房人及配偶的住房情况，依据《住房公积金管理条例》"
            "第二十四条查询婚姻状况和配偶姓名，未查询其他信息。"
        },
    ).raise_for_status()
    lines.append("zj 张伟's 数据使用记录: 2 data queries by ah, one questioned and answered")
    for node in ("ah", "sh", "js"):
        try:  # the workers do this every TONGBAN_AUDIT_CHECKPOINT_SECONDS; now, once
            region.manage(node, "audit", "checkpoint")
            region.manage(node, "audit", "witness")
        except RuntimeError as exc:
            lines.append(f"{node}: checkpoint not cosigned yet ({str(exc).splitlines()[-1]})")
    return lines


# --- 联办件: relays (接续办) and bundles (集成办 "一件事") ------------------------------


def demo_officials(region: Region) -> dict[tuple[str, str], str]:
    """(node, organization name) → its demo official's username. Officials other than the
    named ones are numbered by organization code, so they are read from the accounts list
    the demo wrote (``var/accounts.txt``), or asked of each node."""
    path = region.root / "accounts.txt"
    if path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        text = "\n".join(
            f"# {node}\n" + region.manage(node, "demo-accounts") for node in region.nodes
        )
    found, node = {}, ""
    for line in text.splitlines():
        if line.startswith("# "):
            node = line[2:].split()[0]
            continue
        username, _sep, what = line.partition(" ")
        what = what.strip()
        if node and what.startswith("审批 · "):
            found[(node, what.removeprefix("审批 · "))] = username
    return found


def _implementation_of(item: dict, org_name: str) -> str:
    return next(
        i["organization"] for i in item["implementations"] if i["organization_name"] == org_name
    )


class MemberEnded(RuntimeError):
    """A stage or part the 联办件 terminated (已终止) before it started."""


def _member(clerk: ApiClient, number: str, key: str, node_client: ApiClient) -> str:
    """Wait until the 联办件's stage or part ``key`` has started and its case is visible
    at its own node; its case number (MemberEnded when it was terminated instead)."""

    def started():
        body = clerk.get(f"/cases/{number}").json()
        member = next(m for m in (body.get("stages") or body.get("parts")) if m["key"] == key)
        if member["status"] == "cancelled":
            raise MemberEnded(f"{number}: {key} was not started ({member.get('reason')})")
        n = member.get("number")
        return n if n and node_client.get(f"/cases/{n}").status_code == 200 else None

    return wait_for(started, what=f"{number} {key}")


def _decide(official: ApiClient, number: str, result: dict | None = None, note: str = "") -> None:
    official.post(f"/cases/{number}/accept", {"note": "材料齐全，予以受理"}).raise_for_status()
    official.post(
        f"/cases/{number}/approve", {"result": result or {}, "note": note}
    ).raise_for_status()


def seed_composites(client, officials: dict[tuple[str, str], str]) -> list[str]:
    """联办件 in several states, each started at a window and decided member by member at
    the members' own nodes:

    * a 养老保险 transfer taken in 黄浦 (sh) for 李娜, its first stage (联系函) issued by
      上海市人社局 and its second waiting at 江苏省人社厅 (js) — README's 接续办 flow;
    * a 毕业户口迁移 taken in 嘉善 (zj), concluded: 浙江省公安厅 → 上海市公安局 → 浙江省公安厅;
    * a 新生儿出生“一件事” for 张伟's daughter born in Shanghai, household in 嘉善: the
      出生医学证明 issued by 上海市卫健委 (sh), the 出生登记 waiting at 浙江省公安厅 (zj);
    * a 企业开办“一件事” taken in 青浦 (sh): the company registered, its 印章刻制备案
      refused by 上海市公安局, 税务 and 发票 done, 社保 and 公积金 waiting."""

    def official(node: str, org_name: str) -> ApiClient:
        return client(node, officials[(node, org_name)])

    lines = []
    today = dt.date.today()

    # 接续办, waiting at its second stage in js
    clerk = client("sh", "huangpu.clerk")
    item = clerk.get(f"/items/{PENSION_TRANSFER}").json()
    _, name, id_number, phone = PERSONS["sh"]
    r = clerk.post(
        "/cases",
        {
            "window": "sh-310101-01",
            "item": PENSION_TRANSFER,
            "organization": _implementation_of(item, "上海市人力资源和社会保障局"),
            "applicant": {"name": name, "id_number": id_number, "phone": phone},
            "form": {
                "applicant_name": name,
                "applicant_id_number": id_number,
                "contact_phone": phone,
                "from_region": "320000",
                "new_employer": "上海青禾数字科技有限公司",
                "contact_address": "上海市青浦区华新镇华腾路1288号",
            },
            "materials": material_payload(item),
        },
    )
    r.raise_for_status()
    number = r.json()["number"]
    sh_hrss = official("sh", "上海市人力资源和社会保障局")
    first = _member(clerk, number, "contact_letter", sh_hrss)
    _decide(sh_hrss, first, {"letter_number": "沪人社联〔2026〕0118号"}, "已出具联系函")
    _member(clerk, number, "transfer_out", client("js", "js.hrss.official"))
    lines.append(f"sh 黄浦 → 养老保险转移接续 {number}: 联系函 issued (sh), 转出 waiting at js")

    # 接续办, concluded across zj and sh
    clerk = client("zj", "jiashan.clerk")
    item = clerk.get(f"/items/{GRADUATE_HUKOU}").json()
    applicant = sample_applicant(17, "330421")
    r = clerk.post(
        "/cases",
        {
            "window": "zj-330421-01",
            "item": GRADUATE_HUKOU,
            "organization": _implementation_of(item, "浙江省公安厅"),
            "applicant": applicant,
            "form": {
                "applicant_name": applicant["name"],
                "applicant_id_number": applicant["id_number"],
                "contact_phone": applicant["phone"],
                "graduate_school": "上海交通大学",
                "graduation_date": (today - dt.timedelta(days=150)).isoformat(),
                "from_region": "310000",
                "from_address": "上海市闵行区东川路800号（学校集体户）",
                "move_to_address": "浙江省嘉善县罗星街道体育南路66号",
            },
            "materials": material_payload(item),
        },
    )
    r.raise_for_status()
    number = r.json()["number"]
    zj_police, sh_police = client("zj", "zj.police.official"), client("sh", "sh.police.official")
    permit = _member(clerk, number, "permit", zj_police)
    _decide(zj_police, permit, {"permit_number": "浙公迁准〔2026〕0427号"}, "准予迁入")
    move_out = _member(clerk, number, "move_out", sh_police)
    _decide(sh_police, move_out, {"migration_number": "沪迁字第2026118833号"}, "已办理迁出")
    register = _member(clerk, number, "register", zj_police)
    _decide(zj_police, register, {}, "已落户")
    wait_for(
        lambda: clerk.get(f"/cases/{number}").json()["status"] == "approved",
        what=f"{number} concluded",
    )
    lines.append(f"zj 嘉善 → 毕业户口迁移 {number}: zj → sh → zj, concluded")

    # 集成办: 新生儿出生“一件事”, in progress
    item = clerk.get(f"/items/{NEWBORN}").json()
    _, name, id_number, phone = PERSONS["zj"]
    mother_id = "33042119920506124" + ric.calc_check_digit("33042119920506124" + "0")
    r = clerk.post(
        "/cases",
        {
            "window": "zj-330421-01",
            "item": NEWBORN,
            "organization": _implementation_of(item, "浙江省卫生健康委员会"),
            "applicant": {"name": name, "id_number": id_number, "phone": phone},
            "form": {
                "newborn_name": "张若溪",
                "newborn_sex": "女",
                "newborn_birth_date": (today - dt.timedelta(days=12)).isoformat(),
                "birth_hospital": "复旦大学附属妇产科医院",
                "birth_region": "310000",
                "hukou_region": "330000",
                "father_id_number": id_number,
                "mother_id_number": mother_id,
                "settle_address": "浙江省嘉善县罗星街道亭桥北路88号",
                "bank": "中国银行",
                "contact_phone": phone,
            },
            "materials": material_payload(item),
        },
    )
    r.raise_for_status()
    number = r.json()["number"]
    sh_health = official("sh", "上海市卫生健康委员会")
    birth = _member(clerk, number, "birth_certificate", sh_health)
    _decide(
        sh_health,
        birth,
        {"gender": "女", "mother_name": "刘敏", "father_name": name},
        "出生医学证明已签发",
    )
    _member(clerk, number, "hukou", zj_police)
    lines.append(
        f"zj 嘉善 → 新生儿出生“一件事” {number}: 出生医学证明 (sh), 出生登记 waiting at zj"
    )

    # 集成办: 企业开办“一件事”, a part refused
    clerk = client("sh", "qingpu.clerk")
    item = clerk.get(f"/items/{BUSINESS_START}").json()
    applicant = sample_applicant(23, "310101")
    company = "上海青溪云数据科技有限公司"
    form = form_payload(item, applicant, company)
    form.update(
        company_region="310118",
        company_type="有限责任公司（自然人投资或控股）",
        seal_kinds="公章",
        seal_count="1",
        finance_officer="孙雨桐",
        invoice_kind="数电发票",
        monthly_quantity="50",
        bank_name="中国工商银行上海市青浦支行",
        bank_account="1001234509876543210",
        deposit_ratio="7",
        employee_count="12",
    )
    r = clerk.post(
        "/cases",
        {
            "window": "sh-310118-01",
            "item": BUSINESS_START,
            "organization": _implementation_of(item, "上海市青浦区市场监督管理局"),
            "applicant": applicant,
            "form": form,
            "materials": material_payload(item),
        },
    )
    r.raise_for_status()
    number = r.json()["number"]
    qingpu = client("sh", "qingpu.official")
    establish = _member(clerk, number, "establish", qingpu)
    _decide(qingpu, establish, {}, "准予设立登记")
    try:
        seal = _member(clerk, number, "seal", sh_police)
    except MemberEnded as exc:  # say so; the rest of the demo goes on
        lines.append(f"sh 青浦 → 企业开办“一件事” {number}: 设立登记 done; {exc}")
        return lines
    sh_police.post(
        f"/cases/{seal}/refuse",
        {"reason": "印模样式未包含企业名称全称，请按规定重新设计后申请"},
    ).raise_for_status()
    tax_office = official("sh", "国家税务总局上海市青浦区税务局")
    _decide(tax_office, _member(clerk, number, "tax", tax_office), {}, "予以备案")
    _decide(tax_office, _member(clerk, number, "invoice", tax_office), {"monthly_quantity": "50"})
    lines.append(
        f"sh 青浦 → 企业开办“一件事” {number}: 设立登记, 税务, 发票 done; 印章 refused; "
        "社保, 公积金 waiting"
    )
    return lines
