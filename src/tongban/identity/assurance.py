"""The identity assurance levels (实名等级) in words people understand — defined once.

The codes L1/L2/L3 travel in identity assertions and the API; people see what a level
means (实名等级：当面核验). Officials also get the code, under the case's 技术详情.
"""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# what the level means, in a few words (a tag, a table cell)
ASSURANCE_MEANINGS = {
    "L1": _("未核验"),
    "L2": _("在线实名"),
    "L3": _("当面核验"),
}

# how the level is reached, in a sentence (help texts, titles)
ASSURANCE_EXPLANATIONS = {
    "L1": _("自助注册，身份尚未核验"),
    "L2": _("身份信息在线核验，手机号已验证"),
    "L3": _("在窗口当面核验身份，或经国家政务服务平台认证"),
}


def assurance_meaning(level: str) -> str:
    """ "L3" → "当面核验"; an unknown code is shown as it is."""
    return str(ASSURANCE_MEANINGS.get(level or "", level or ""))


def assurance_explanation(level: str) -> str:
    """ "L2" → "身份信息在线核验，手机号已验证"."""
    return str(ASSURANCE_EXPLANATIONS.get(level or "", level or ""))


def assurance_phrase(level: str) -> str:
    """ "L3" → "实名等级：当面核验"."""
    return gettext("实名等级：%(meaning)s") % {"meaning": assurance_meaning(level)}
