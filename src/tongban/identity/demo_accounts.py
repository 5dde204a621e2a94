"""Demo accounts for one node (sample data; the password is printed by ``tongban demo``)."""

from __future__ import annotations

from stdnum.cn import ric

DEMO_PASSWORD = "Tongban-demo-2026"  # noqa: S105 — sample accounts, printed by the demo

WINDOW_CLERKS = {
    "zj-330421-01": ("jiashan.clerk", "沈晓燕（嘉善县专窗）"),
    "sh-310118-01": ("qingpu.clerk", "顾敏（青浦区专窗）"),
    "sh-310101-01": ("huangpu.clerk", "周洁（黄浦区专区）"),
    "js-320509-01": ("wujiang.clerk", "吴静（吴江区专窗）"),
    "ah-340100-01": ("hefei.clerk", "许丽（合肥市专窗）"),
}
NAMED_OFFICIALS = {
    "上海市青浦区市场监督管理局": ("qingpu.official", "陆建华（青浦区市场监管局）"),
    "上海市公安局": ("sh.police.official", "赵磊（上海市公安局）"),
    "嘉兴市市场监督管理局": ("jiaxing.official", "钱程（嘉兴市市场监管局）"),
    "苏州市市场监督管理局": ("suzhou.official", "孙悦（苏州市市场监管局）"),
    "合肥市市场监督管理局": ("hefei.official", "李强（合肥市市场监管局）"),
    "苏州市吴江区行政审批局": ("wujiang.official", "沈浩（吴江区行政审批局）"),
    "合肥住房公积金管理中心": ("hefei.fund.official", "方圆（合肥住房公积金管理中心）"),
    "江苏省人力资源和社会保障厅": ("js.hrss.official", "朱琳（江苏省人社厅）"),
    "浙江省公安厅": ("zj.police.official", "吴刚（浙江省公安厅）"),
}
# 数据专员: answers the flags residents raise on their organization's uses of their data
DATA_OFFICERS = {
    "合肥住房公积金管理中心": ("hefei.fund.data", "韩冰（合肥住房公积金管理中心数据专员）"),
}


def _id_number(prefix17: str) -> str:
    return prefix17 + ric.calc_check_digit(prefix17 + "0")  # expects a placeholder check digit


# one resident per province; their ID numbers are valid but invented
PERSONS = {
    "zj": ("zhangwei", "张伟", _id_number("33042119900307123"), "13905731234"),
    "sh": ("lina", "李娜", _id_number("31022919880512456"), "13801761234"),
    "js": ("wangfang", "王芳", _id_number("32058419930818246"), "13913551234"),
    "ah": ("chenjing", "陈静", _id_number("34010419870221368"), "13955161234"),
}


def _credit_code(prefix16: str) -> str:
    from stdnum.cn import uscc

    return prefix16 + "0" + uscc.calc_check_digit(prefix16 + "00")


# per province: an enterprise represented by the resident above, and its authorized agent
ENTERPRISES = {
    "zj": ("嘉善禾丰智能科技有限公司", _credit_code("91330421MA2D0001")),
    "sh": ("上海青禾数字科技有限公司", _credit_code("91310118MA1K0001")),
    "js": ("苏州松陵网络科技有限公司", _credit_code("91320509MA1W0001")),
    "ah": ("合肥庐州生物医药有限公司", _credit_code("91340100MA2R0001")),
}
# a 温州 resident (zj) who is the legal representative of a company registered in 上海青浦
# (sh): the registry that confirms him is another province's (issue 11 §4)
WENZHOU_RESIDENT = ("linxiao", "林晓", _id_number("33030219850614231"), "13905771234")
AGENTS = {
    "zj": ("shenjia", "沈佳", _id_number("33042119950716242"), "13905739876"),
    "sh": ("gujun", "顾俊", _id_number("31010119910304531"), "13801769876"),
    "js": ("xuming", "徐明", _id_number("32010219890925173"), "13913559876"),
    "ah": ("hetao", "何涛", _id_number("34010419930611295"), "13955169876"),
}
