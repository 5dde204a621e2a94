"""Sample rows for the demo persons and enterprises (示例数据, generated, not real)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from tongban.identity.demo_accounts import ENTERPRISES, PERSONS, WENZHOU_RESIDENT, _credit_code
from tongban.sharing.enterprise_registry import registry_node_for
from tongban.sharing.models import Dataset
from tongban.sharing.providers import sample_record_put

# in the registers but not created by the demo accounts: 林晓 of 温州 (zj) registers the
# first one himself at zj, confirmed by sh's register; the second is deregistered
REGISTRY_ONLY = [
    (
        "上海淀湖智能装备有限公司",
        _credit_code("91310118MA1K0002"),
        WENZHOU_RESIDENT[1:3],
        "存续（在营、开业、在册）",
    ),
    ("上海朱家角示例贸易有限公司", _credit_code("91310118MA1K0003"), PERSONS["sh"][1:3], "注销"),
]
ID_TYPE = "111"  # 居民身份证, as in case.submit subjects
PROVINCE = {"sh": "上海市", "zj": "浙江省", "js": "江苏省", "ah": "安徽省"}
CITY = {"sh": "上海市青浦区", "zj": "嘉兴市嘉善县", "js": "苏州市吴江区", "ah": "合肥市蜀山区"}
SPOUSE = {"zj": "王建国", "sh": "陈明", "js": "刘洋", "ah": "周斌"}
ACTIVE = "存续（在营、开业、在册）"


def registry_enterprises() -> list[tuple[str, str, tuple[str, str], str]]:
    """(name, USCC, (legal representative's name, 身份证号), status)
    of every sample enterprise in the registers: the demo enterprises, the company
    registered in 上海青浦 whose legal representative lives in 浙江 (issue 11 §4), and a
    deregistered one."""
    rows = [(name, uscc, PERSONS[home][1:3], ACTIVE) for home, (name, uscc) in ENTERPRISES.items()]
    return rows + list(REGISTRY_ONLY)


def _birth(id_number: str) -> str:
    return f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}"


def _person_row(base: str, home: str, name: str, id_number: str, n: int) -> dict:
    gender = "男" if int(id_number[16]) % 2 else "女"
    if base == "household":
        return {
            "name": name,
            "gender": gender,
            "birth_date": _birth(id_number),
            "ethnicity": "汉族",
            "address": f"{CITY[home]}示例路{n + 1}号（示例）",
            "household_head": name,
            "relation_to_head": "户主",
        }
    if base == "marriage":
        return {
            "marital_status": "已婚",
            "spouse_name": SPOUSE[home],
            "spouse_id_number": "（示例）" + id_number[:6] + "********",
            "registered_on": "2016-05-20",
            "registry": "苏州市吴江区民政局（示例）",
        }
    if base == "social_insurance":
        return {
            "insured": True,
            "insurance_types": "养老、医疗、失业",
            "employer": f"{CITY[home]}示例科技有限公司",
            "months_paid": 96 + n * 12,
            "last_paid_month": "2026-11",
        }
    if base == "housing_fund":
        return {
            "account_status": "正常",
            "employer": f"{CITY[home]}示例科技有限公司",
            "monthly_deposit": "1860.00",
            "balance": f"{52000 + n * 7300}.00",
            "months_paid": 60 + n * 6,
        }
    if base == "real_estate":
        return {
            "has_property": True,
            "property_address": f"上海市青浦区示例苑{n + 1}号楼{101 + n}室（示例）",
            "certificate_number": f"沪（2026）青字不动产权第{1000001 + n}号（示例）",
            "area_m2": "89.50",
            "registered_on": "2026-10-18",
        }
    if base == "education":
        return {
            "highest_degree": "大学本科",
            "school": "示例大学",
            "major": "计算机科学与技术",
            "graduated_on": f"{int(id_number[6:10]) + 22}-06-30",
            "certificate_number": f"10000120{int(id_number[6:10]) + 22}0{n:05d}",
        }
    return {}


@transaction.atomic
def sharing_samples_generate(*, node_id: str | None = None) -> int:
    """Sample rows for every dataset this node owns: one per demo person (or enterprise)."""
    node_id = node_id or settings.TONGBAN_NODE
    count = 0
    for dataset in Dataset.objects.filter(node_id=node_id, active=True).prefetch_related("fields"):
        base = dataset.code.split(".", 1)[1]
        keys = [f.key for f in dataset.fields.all()]
        if dataset.subject == "enterprise":
            for name, uscc, representative, status in registry_enterprises():
                if registry_node_for(uscc) != dataset.node_id:
                    continue  # 企业登记信息: each registering authority holds its own
                row = {
                    "name": name,
                    "uscc": uscc,
                    "legal_representative": representative[0],
                    "legal_representative_id": representative[1],
                    "status": status,
                    "registered_on": "2023-03-15",
                    "business_scope": "技术开发、技术咨询（示例）",
                }
                data = {k: row.get(k) for k in keys}
                sample_record_put(dataset_code=dataset.code, subject={"uscc": uscc}, data=data)
                count += 1
            continue
        for n, (home, (_, name, id_number, _phone)) in enumerate(PERSONS.items()):
            row = _person_row(base, home, name, id_number, n)
            if base == "household" and home != node_id:
                continue  # 户籍: each province's police holds its own residents
            data = {k: row.get(k) for k in keys}
            subject = {"id_type": ID_TYPE, "id_number": id_number}
            sample_record_put(dataset_code=dataset.code, subject=subject, data=data)
            count += 1
    return count
