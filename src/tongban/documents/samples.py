"""One realistic document of every kind (formats.KINDS): the tests render and verify them,
``tongban document-samples DIR`` draws their first pages for docs/documents/.

Each sample names its issuing organization (an organization of node sh in the seed
directory), the person, the matter, and what the document says, as the case services write
it: names rather than codes, Beijing time in Chinese.
"""

from __future__ import annotations

import datetime as dt

from tongban.documents.dates import BEIJING

ISSUED_AT = dt.datetime(2026, 12, 1, 11, 6, 27, tzinfo=BEIJING)
CASE_NUMBER = "31011820261201000123"
APPLICANT = {"name": "张伟", "id_masked": "3304**********1236"}
WINDOW = "上海市青浦区行政服务中心长三角“一网通办”综合服务专窗"
QINGPU_AMR = "上海市青浦区市场监督管理局"
APPEAL = (
    "如不服本{what}，可以自收到本{what}之日起六十日内向上海市青浦区人民政府申请行政复议，"
    "或者自收到本{what}之日起六个月内向上海市青浦区人民法院提起行政诉讼。"
)

_SCOPE_ITEMS = [
    "技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广",
    "软件开发",
    "人工智能应用软件开发",
    "人工智能基础软件开发",
    "信息系统集成服务",
    "信息技术咨询服务",
    "数据处理和存储支持服务",
    "物联网技术服务",
    "物联网设备销售",
    "智能机器人的研发",
    "智能机器人销售",
    "工业机器人安装、维修",
    "电子元器件与机电组件设备销售",
    "计算机软硬件及辅助设备批发",
    "计算机软硬件及辅助设备零售",
    "通讯设备销售",
    "仪器仪表销售",
    "办公设备销售",
    "会议及展览服务",
    "企业管理咨询",
    "市场营销策划",
    "广告设计、代理",
    "货物进出口",
    "技术进出口",
]


_PRODUCTS = [
    "智能机器人",
    "工业自动控制系统装置",
    "电子产品",
    "计算机软硬件及外围设备",
    "通信设备",
    "物联网设备",
    "新能源汽车电附件",
    "光伏设备及元器件",
    "储能设备",
    "第一类医疗器械",
    "环境保护专用设备",
    "智能家庭消费设备",
    "可穿戴智能设备",
    "集成电路芯片及产品",
    "半导体器件专用设备",
    "网络与信息安全设备",
    "安防设备",
    "服务消费机器人",
    "智能无人飞行器",
    "人工智能硬件",
    "智能车载设备",
    "智能仪器仪表",
    "数字视频监控系统",
    "卫星导航定位接收设备",
]
_ACTIVITIES = ["的研发", "制造（限分支机构经营）", "批发", "零售", "的技术服务", "安装、维修"]


def business_scope(min_chars: int = 2000) -> str:
    """A 经营范围 of at least ``min_chars`` characters, as registration writes them."""
    items = list(_SCOPE_ITEMS) + [p + a for a in _ACTIVITIES for p in _PRODUCTS]
    text = "一般项目："
    for item in items:
        if len(text) >= min_chars:
            break
        text += item + "；"
    return text + "（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）"


SAMPLES: dict[str, dict] = {
    "intake_receipt": {
        "title": "收件凭证",
        "organization": "上海市青浦区行政服务中心",
        "doc_number": "",
        "facts": [
            ("事项名称", "内资有限公司设立登记"),
            ("收件窗口", WINDOW),
            ("办理机构", QINGPU_AMR),
            ("收件时间", "2026年12月1日 11:06"),
            ("已收材料", "公司登记（备案）申请书；公司章程；股东主体资格证明；住所使用证明"),
            ("办理进度查询", "凭办件编号在收件地或办理地政务服务平台查询"),
        ],
        "body": "您的申请材料已由本窗口收取并转送办理机构。办理机构将在法定期限内作出"
        "受理或者不予受理的决定，届时另行出具受理回执或者不予受理通知书。",
    },
    "acceptance_receipt": {
        "title": "受理回执",
        "organization": QINGPU_AMR,
        "doc_number": "沪青市监〔2026〕受字第000123号",
        "facts": [
            ("事项名称", "内资有限公司设立登记"),
            ("收件窗口", WINDOW),
            ("受理时间", "2026年12月1日 14:30"),
            ("承诺办结期限", "2026年12月4日"),
        ],
        "body": "你（单位）提交的内资有限公司设立登记申请，申请材料齐全、符合法定形式，"
        "本机关决定予以受理。",
    },
    "supplement_notice": {
        "title": "补正告知书",
        "organization": QINGPU_AMR,
        "doc_number": "沪青市监〔2026〕补字第000045号",
        "facts": [
            ("事项名称", "内资有限公司设立登记"),
            ("需补正材料", "住所使用证明：租赁合同未附产权证明复印件"),
            ("补正期限", "2026年12月31日"),
            ("告知时间", "2026年12月1日 14:30"),
        ],
        "body": "你（单位）提交的申请材料不齐全或者不符合法定形式。根据《中华人民共和国"
        "行政许可法》第三十二条第一款第（四）项的规定，现一次性告知需要补正的全部内容。"
        "请于补正期限前通过收件窗口或者网上提交补正材料；逾期未补正的，视为撤回申请。",
    },
    "refusal_notice": {
        "title": "不予受理通知书",
        "organization": QINGPU_AMR,
        "doc_number": "沪青市监〔2026〕不受字第000007号",
        "facts": [
            ("事项名称", "内资有限公司设立登记"),
            ("不予受理理由", "申请登记的住所位于本机关管辖区域以外"),
            ("决定时间", "2026年12月1日 15:10"),
        ],
        "body": "根据《中华人民共和国行政许可法》第三十二条第一款第（三）项的规定，本机关"
        "决定不予受理，请向有管辖权的登记机关提出申请。" + APPEAL.format(what="通知书"),
    },
    "approval_decision": {
        "title": "准予许可决定书",
        "organization": QINGPU_AMR,
        "doc_number": "沪青市监〔2026〕准字第000123号",
        "facts": [
            ("事项名称", "内资有限公司设立登记"),
            ("企业名称", "上海青禾数字科技有限公司"),
            ("统一社会信用代码", "91310118MA1JQ8TX2K"),
            ("法定代表人", "张伟"),
            ("注册资本", "500万元人民币"),
            ("住所", "上海市青浦区华新镇华志路1688号2幢3层"),
            ("经营范围", business_scope()),
            ("决定时间", "2026年12月1日 16:45"),
        ],
        "body": "经审查，你（单位）的申请符合法定条件、标准，根据《中华人民共和国行政许可法》"
        "第三十八条第一款的规定，决定准予登记，营业执照已发送至企业电子证照夹。",
    },
    "denial_decision": {
        "title": "不予许可决定书",
        "organization": QINGPU_AMR,
        "doc_number": "沪青市监〔2026〕不许字第000009号",
        "facts": [
            ("事项名称", "内资有限公司经营范围变更登记"),
            ("企业名称", "上海青禾数字科技有限公司"),
            ("统一社会信用代码", "91310118MA1JQ8TX2K"),
            ("不予许可理由", "申请增加的经营项目“危险化学品经营”须先取得危险化学品经营许可证"),
            ("决定时间", "2026年12月1日 16:50"),
        ],
        "body": "根据《中华人民共和国行政许可法》第三十八条第二款的规定，本机关决定不予许可。"
        + APPEAL.format(what="决定书"),
    },
    "certificate": {
        "title": "户籍事项证明",
        "organization": "上海市公安局",
        "doc_number": "沪公户证〔2026〕第004521号",
        "subject": {"name": "王芳", "id_masked": "3205**********2246"},
        "facts": [
            ("证明事项", "亲属关系"),
            (
                "证明内容",
                "王芳（公民身份号码3205**********2246）与王建国（公民身份号码"
                "3205**********1213）系父女关系。",
            ),
            ("用途", "办理不动产继承登记"),
        ],
        "body": "经核查户籍档案，特此证明。",
        "valid_until": dt.date(2027, 5, 31),
    },
    "filing_receipt": {
        "title": "备案回执",
        "organization": "上海市医疗保障局",
        "doc_number": "沪医保备〔2026〕第010088号",
        "facts": [
            ("事项名称", "异地就医登记备案"),
            ("参保地", "上海市"),
            ("就医地", "安徽省合肥市"),
            ("备案类别", "异地长期居住人员"),
            ("备案有效期", "2026年12月1日 至 2027年11月30日"),
        ],
        "body": "你的异地就医备案已登记，备案有效期内在就医地定点医疗机构就医可直接结算。",
    },
    "conclusion_notice": {
        "title": "办结通知书",
        "organization": QINGPU_AMR,
        "doc_number": "",
        "facts": [
            ("事项名称", "内资有限公司设立登记"),
            ("收件窗口", WINDOW),
            ("办理结论", "准予许可"),
            ("办理结果", "营业执照（统一社会信用代码 91310118MA1JQ8TX2K）已发送至企业电子证照夹"),
            ("办结时间", "2026年12月1日 16:45"),
        ],
        "body": "你（单位）申请的事项已办结。办理结果可在收件地或办理地政务服务平台查询、下载。",
    },
    "licence_file": {
        "title": "机动车驾驶证（电子证照文件）",
        "organization": "上海市公安局",
        "doc_number": "",
        "subject": {"name": "陈静", "id_masked": "3101**********0011", "id_label": "公民身份号码"},
        "facts": [
            ("证照类型", "机动车驾驶证"),
            ("证号", "3101**********0011"),
            ("住址", "上海市徐汇区漕溪北路88号"),
            ("出生日期", "1985年6月12日"),
            ("初次领证日期", "2010年5月1日"),
            ("准驾车型", "C1"),
            ("发证机关", "上海市公安局"),
            ("有效期", "2024年5月1日 至 2030年5月1日"),
            ("证照版本", "第 1 版"),
        ],
        "body": "本文件依据上海市公安局签发的电子证照生成，与电子证照具有同等效力；"
        "证照当前状态以扫码核验结果为准。",
        "valid_until": dt.date(2030, 5, 1),
    },
}


def sample_arguments(kind: str) -> dict:
    """document_issue keyword arguments for a sample (organization given by name)."""
    sample = SAMPLES[kind]
    return {
        "kind": kind,
        "title": sample["title"],
        "subject": sample.get("subject", APPLICANT),
        "facts": list(sample["facts"]),
        "body": sample.get("body", ""),
        "doc_number": sample.get("doc_number", ""),
        "case_number": "" if kind == "licence_file" else CASE_NUMBER,
        "valid_until": sample.get("valid_until"),
    }
