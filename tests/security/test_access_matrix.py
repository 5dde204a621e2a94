"""Every role × every page and API endpoint, generated from the URL registry.

Each named route must have a rule below; a new endpoint without one fails
``test_every_route_has_a_rule``. Objects outside the caller's scope are 404
(existence is not leaked); a role that may never use an endpoint gets
401/403 (or the login page); allowed roles get through (a 4xx about the
request itself — a missing reason, a case in another state — still shows that
access was granted). Each request runs in a savepoint that is rolled back, so
one fixture serves the whole matrix.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from stdnum.cn import uscc

from tests.conftest import utc
from tests.factories import (
    ESTABLISHMENT,
    JIAXING_AMR,
    QINGPU_AMR,
    establishment_form,
    id_number,
    materials_payload,
    user_with,
)
from tongban.directory.services import trust_anchor_install
from tongban.identity.models import AgentAuthorization, Enterprise
from tongban.identity.services import api_token_create, person_upsert
from tongban.licences.models import LicenceType
from tongban.licences.services import licence_issue

ROLES = (
    "anonymous",
    "applicant",
    "other_person",
    "clerk",
    "other_clerk",
    "official",
    "other_official",
    "supervisor",
    "node_admin",
)
# Third-party protocol and back-office routes with their own, separately tested, rules.
EXCLUDED_NAMESPACES = ("admin:", "oauth2_provider:")

OK, VISIBLE, HIDDEN, DENIED = "ok", "visible", "hidden", "denied"


def _notice_of(case_number: str) -> int:
    from tongban.notices.models import Notice

    return Notice.objects.filter(case_number=case_number).values_list("pk", flat=True).first()


def _use_of(case_number: str) -> str:
    from tongban.sharing.models import DataUseRecord

    return (
        DataUseRecord.objects.filter(case_number=case_number)
        .values_list("use_id", flat=True)
        .first()
    )


def _use_pk(case_number: str) -> int | None:
    from tongban.sharing.models import DataUseRecord

    return (
        DataUseRecord.objects.filter(case_number=case_number).values_list("pk", flat=True).first()
    )


def walk(patterns, ns=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, ns + (f"{p.namespace}:" if p.namespace else ""))
        elif isinstance(p, URLPattern) and p.name:
            yield ns + p.name


def registered_routes() -> set[str]:
    return {
        name
        for name in walk(get_resolver().url_patterns)
        if not name.startswith(EXCLUDED_NAMESPACES)
    }


@dataclass
class Rule:
    method: str
    path: Callable[[dict], str]
    expect: dict[str, str]
    body: Callable[[dict], dict] | None = None
    api: bool = True
    default: str = DENIED
    extra: dict = field(default_factory=dict)

    def expected(self, role: str) -> str:
        return self.expect.get(role, self.default)


def everyone(outcome):
    return dict.fromkeys(ROLES, outcome)


def staff_and_people(outcome, anonymous=DENIED):
    return {**everyone(outcome), "anonymous": anonymous}


ORIGIN, HANDLING = "origin_number", "handling_number"
OVERSEERS = ("official", "other_official", "supervisor", "node_admin")

# who may see each of the two cases (everyone else: 404)
SEES_ORIGIN = {"applicant", "clerk", "node_admin"}
SEES_HANDLING = {"applicant", "official", "supervisor", "node_admin"}


def case_rule(method, suffix, case, *, allowed: set[str], body=None, api=True, denied=frozenset()):
    """A rule for an endpoint on one case: ``allowed`` get through, ``denied`` are refused
    (they may know the case, not act on it), everyone else is told it does not exist."""
    expect = {"anonymous": DENIED}
    for role in ROLES[1:]:
        expect[role] = VISIBLE if role in allowed else DENIED if role in denied else HIDDEN
    prefix = "/api/v1/cases/" if api else "/cases/"
    return Rule(method, lambda c: f"{prefix}{c[case]}{suffix}", expect, body=body, api=api)


def api_decision(action):
    # the deciding organization's officials act; its supervisors see but may not decide
    return case_rule(
        "post",
        f"/{action}",
        HANDLING,
        allowed={"official"},
        denied={"supervisor"},
        body=lambda c: {"reason": "理由", "note": "", "missing": [{"material_code": "M02"}]},
    )


def page_decision(action, data):
    return case_rule(
        "post",
        f"/actions/{action}/",
        HANDLING,
        allowed={"official"},
        denied={"supervisor"},
        api=False,
        body=lambda c: data,
    )


PEOPLE_ONLY = {**everyone(DENIED), "applicant": VISIBLE, "other_person": VISIBLE}

# 电子证照: a licence 青浦 issued to the applicant (in the applicant's wallet here), and one
# it issued to the applicant's enterprise (for which other_person is an authorized agent)
LICENCE, ENTERPRISE_LICENCE = "licence", "enterprise_licence"
SPECIAL_EQUIPMENT = "11100000000014015P003"  # 特种设备作业人员证 (persons)
BUSINESS_LICENCE_NAME = "营业执照"
# the wallet: the holder; anyone else is told the licence does not exist
HOLDER_ONLY_API = {**staff_and_people(HIDDEN), "applicant": OK}
# pages: only persons have a wallet (staff: 403), and only their own entries
HOLDER_ONLY_PAGE = {**everyone(DENIED), "applicant": OK, "other_person": HIDDEN}
# the issuing organization's officials and supervisors read; others: no such licence
ISSUER_READS_API = {**staff_and_people(HIDDEN), "official": OK, "supervisor": OK}
ISSUER_ACTS_API = {**ISSUER_READS_API, "supervisor": DENIED}
# pages: only officials and supervisors (403 for everyone else), then scoped to the organization
ISSUER_READS_PAGE = {**everyone(DENIED), "official": OK, "supervisor": OK, "other_official": HIDDEN}
ONLINE_BODY = {"item": "000501001000", "organization": "x", "form": {}, "materials": []}

RULES: dict[str, Rule] = {
    # --- public --------------------------------------------------------------------------
    "api:openapi-json": Rule("get", lambda c: "/api/v1/openapi.json", everyone(OK)),
    "api:openapi-view": Rule("get", lambda c: "/api/v1/docs", everyone(OK)),
    "api:api-root": Rule("get", lambda c: "/api/v1/", everyone(HIDDEN)),
    "api:health": Rule("get", lambda c: "/api/v1/health", everyone(OK)),
    "api:global_configuration": Rule("get", lambda c: "/api/v1/global-configuration", everyone(OK)),
    "api:trust_anchor": Rule("get", lambda c: "/api/v1/trust-anchor", everyone(OK)),
    # the audit log: public, leaf hashes only (no checkpoint yet in this world: 404)
    "api:audit_checkpoint": Rule("get", lambda c: "/api/v1/audit/checkpoint", everyone(HIDDEN)),
    "api:audit_inclusion_proof": Rule(
        "get", lambda c: "/api/v1/audit/proof/inclusion?index=0&size=0", everyone(VISIBLE)
    ),
    "api:audit_consistency_proof": Rule(
        "get", lambda c: "/api/v1/audit/proof/consistency?first=0&second=0", everyone(OK)
    ),
    # a witness: unauthenticated, the log's signature on the checkpoint authenticates
    "api:audit_witness_add_checkpoint": Rule(
        "post",
        lambda c: "/api/v1/audit/witness/add-checkpoint",
        everyone(VISIBLE),
        body=lambda c: {},
    ),
    # the sharing catalog this node holds: staff only
    "api:sharing_datasets": Rule(
        "get",
        lambda c: "/api/v1/sharing/datasets",
        {
            **everyone(OK),
            "anonymous": DENIED,
            "applicant": DENIED,
            "other_person": DENIED,
        },
    ),
    "api:item_list": Rule("get", lambda c: "/api/v1/items", everyone(OK)),
    "api:item_get": Rule("get", lambda c: f"/api/v1/items/{ESTABLISHMENT}", everyone(OK)),
    "api:release_get": Rule("get", lambda c: "/api/v1/catalog/releases/2026Q4", everyone(OK)),
    "api:inbox": Rule(
        "post", lambda c: "/api/v1/exchange/inbox", everyone(VISIBLE), body=lambda c: {}
    ),
    "api:token_create": Rule(
        "post",
        lambda c: "/api/v1/auth/tokens",
        everyone(DENIED),
        body=lambda c: {"username": "nobody", "password": "x"},
    ),
    "api:register": Rule(
        "post", lambda c: "/api/v1/auth/register", everyone(VISIBLE), body=lambda c: {}
    ),
    "api:register_verify": Rule(
        "post",
        lambda c: "/api/v1/auth/register/verify",
        everyone(VISIBLE),
        body=lambda c: {"username": "nobody", "code": "1"},
    ),
    "set_language": Rule(
        "post",
        lambda c: "/i18n/setlang/",
        everyone(OK),
        api=False,
        body=lambda c: {"language": "en", "next": "/"},
    ),
    "portal:home": Rule("get", lambda c: "/", everyone(OK), api=False),
    "portal:items": Rule("get", lambda c: "/items/?q=登记", everyone(OK), api=False),
    "portal:item": Rule("get", lambda c: f"/items/{ESTABLISHMENT}/", everyone(OK), api=False),
    "portal:login": Rule("get", lambda c: "/login/", everyone(OK), api=False),
    "portal:login_code": Rule(
        "get", lambda c: "/login/code/", {**everyone(VISIBLE), "anonymous": DENIED}, api=False
    ),
    "portal:register": Rule("get", lambda c: "/register/", everyone(OK), api=False),
    "portal:register_verify": Rule(
        "get", lambda c: "/register/verify/", everyone(VISIBLE), api=False
    ),
    "portal:sso_start": Rule("get", lambda c: "/sso/zj/start/", everyone(OK), api=False),
    "portal:sso_callback": Rule(
        "get", lambda c: "/sso/callback/zj/?code=x&state=forged", everyone(VISIBLE), api=False
    ),
    # OpenID Connect authorization: residents sign in first; staff and unknown clients get an error
    "oidc_authorize": Rule(
        "get",
        lambda c: "/o/authorize/?client_id=unknown&response_type=code&scope=openid",
        {**everyone(VISIBLE), "anonymous": DENIED},
        api=False,
    ),
    "portal:logout": Rule("post", lambda c: "/logout/", everyone(OK), api=False),
    # --- tokens, enterprises ---------------------------------------------------------------
    "api:token_revoke": Rule(
        "delete", lambda c: "/api/v1/auth/tokens/999999", staff_and_people(VISIBLE)
    ),
    "api:enterprise_list": Rule("get", lambda c: "/api/v1/enterprises", staff_and_people(OK)),
    "api:enterprise_claims": Rule(
        "get", lambda c: "/api/v1/enterprises/claims", staff_and_people(OK)
    ),
    "api:enterprise_create": Rule(
        "post",
        lambda c: "/api/v1/enterprises",
        {**everyone(DENIED), "applicant": VISIBLE, "other_person": VISIBLE},
        body=lambda c: {"code": "bad", "name": "x"},
    ),
    "api:agent_create": Rule(
        "post",
        lambda c: f"/api/v1/enterprises/{c['enterprise']}/agents",
        {**staff_and_people(DENIED), "applicant": OK},
        body=lambda c: {
            "name": "张伟",
            "id_number": id_number("31011519880512457"),
            "items": [],
            "expires_at": utc(days=30).isoformat(),
        },
    ),
    "api:agent_revoke": Rule(
        "delete",
        lambda c: f"/api/v1/enterprises/{c['enterprise']}/agents/{c['authorization']}",
        {**staff_and_people(HIDDEN), "applicant": OK},
    ),
    "portal:enterprises": Rule(
        "get", lambda c: "/me/enterprises/", PEOPLE_ONLY | {"anonymous": DENIED}, api=False
    ),
    "portal:enterprise_register": Rule(
        "post",
        lambda c: "/me/enterprises/register/",
        PEOPLE_ONLY | {"anonymous": DENIED},
        api=False,
        body=lambda c: {"code": "bad", "name": ""},
    ),
    "portal:agent_authorize": Rule(
        "post",
        lambda c: f"/me/enterprises/{c['enterprise']}/agents/",
        {**everyone(DENIED), "applicant": VISIBLE, "other_person": HIDDEN},
        api=False,
        body=lambda c: {"name": "", "id_number": ""},
    ),
    "portal:agent_revoke": Rule(
        "post",
        lambda c: f"/me/authorizations/{c['authorization']}/revoke/",
        {**everyone(DENIED), "applicant": VISIBLE, "other_person": HIDDEN},
        api=False,
    ),
    # --- cases: lists ------------------------------------------------------------------------
    "api:case_list": Rule("get", lambda c: "/api/v1/cases", staff_and_people(OK)),
    "api:case_create": Rule(
        "post",
        lambda c: "/api/v1/cases",
        {**staff_and_people(DENIED), "clerk": OK, "other_clerk": DENIED},
        body=lambda c: c["window_application"],
    ),
    "api:case_create_online": Rule(
        "post",
        lambda c: "/api/v1/cases/online",
        {**staff_and_people(DENIED), "applicant": VISIBLE, "other_person": VISIBLE},
        body=lambda c: ONLINE_BODY,
    ),
    "api:outbox": Rule(
        "get", lambda c: "/api/v1/exchange/outbox", {**staff_and_people(DENIED), "node_admin": OK}
    ),
    "portal:window": Rule(
        "get", lambda c: "/window/", {**everyone(DENIED), "clerk": OK, "other_clerk": OK}, api=False
    ),
    "portal:window_identity": Rule(
        "get",
        lambda c: "/window/identity/",
        {**everyone(DENIED), "clerk": OK, "other_clerk": OK},
        api=False,
    ),
    "portal:window_apply_choose": Rule(
        "get",
        lambda c: "/window/apply/",
        {**everyone(DENIED), "clerk": OK, "other_clerk": OK},
        api=False,
    ),
    "portal:window_apply": Rule(
        "get",
        lambda c: f"/window/apply/{ESTABLISHMENT}/",
        {**everyone(DENIED), "clerk": OK, "other_clerk": OK},
        api=False,
    ),
    "portal:work": Rule(
        "get",
        lambda c: "/work/",
        {**everyone(DENIED), "official": OK, "other_official": OK, "supervisor": OK},
        api=False,
    ),
    # 时限监督: the organizations' officials and supervisors, and the node administrator
    "api:oversight_overdue": Rule(
        "get",
        lambda c: "/api/v1/oversight/overdue",
        {**everyone(DENIED), **dict.fromkeys(OVERSEERS, OK)},
    ),
    "portal:oversight": Rule(
        "get",
        lambda c: "/oversight/",
        {**everyone(DENIED), **dict.fromkeys(OVERSEERS, OK)},
        api=False,
    ),
    # the hub's view of every 联办件: not on a node
    "portal:region_composites": Rule(
        "get",
        lambda c: "/region/composites/",
        {**everyone(HIDDEN), "anonymous": DENIED},
        api=False,
    ),
    # a 联办件 this node does not keep (or the caller may not see) does not exist; who sees
    # one that exists is in tests/pages/test_composite_pages.py
    "portal:composite": Rule(
        "get",
        lambda c: "/composites/11310000235721996P1000550001000202612019999999/",
        {**everyone(HIDDEN), "anonymous": DENIED},
        api=False,
    ),
    "portal:my_cases": Rule(
        "get",
        lambda c: "/me/cases/",
        {**everyone(DENIED), "applicant": OK, "other_person": OK},
        api=False,
    ),
    # 消息中心: people read their own notices (the applicant has those of the origin case)
    "portal:messages": Rule(
        "get",
        lambda c: "/messages/",
        {**everyone(DENIED), "applicant": OK, "other_person": OK},
        api=False,
    ),
    "portal:messages_read_all": Rule(
        "post",
        lambda c: "/messages/read-all/",
        {**everyone(DENIED), "applicant": OK, "other_person": OK},
        api=False,
    ),
    "portal:message_read": Rule(
        "post",
        lambda c: f"/messages/{_notice_of(c[ORIGIN])}/read/",
        {**everyone(DENIED), "applicant": OK, "other_person": HIDDEN},
        api=False,
    ),
    # 我的数据使用记录: people read their own (the applicant: the use of the handling case)
    "portal:data_use": Rule(
        "get",
        lambda c: "/me/data-use/?kind=case",
        {**everyone(DENIED), "applicant": OK, "other_person": OK},
        api=False,
    ),
    "portal:data_use_csv": Rule(
        "get",
        lambda c: "/me/data-use/export.csv",
        {**everyone(DENIED), "applicant": OK, "other_person": OK},
        api=False,
    ),
    "portal:data_use_pdf": Rule(
        "get",
        lambda c: "/me/data-use/export.pdf",
        {**everyone(DENIED), "applicant": OK, "other_person": OK},
        api=False,
    ),
    "portal:data_use_flag": Rule(
        "post",
        lambda c: f"/me/data-use/{_use_of(c[HANDLING])}/flag/",
        {**everyone(DENIED), "applicant": OK, "other_person": HIDDEN},
        api=False,
        body=lambda c: {f"u{_use_pk(c[HANDLING])}-reason": "不清楚为何使用"},
    ),
    "api:my_data_uses": Rule(
        "get",
        lambda c: "/api/v1/me/data-uses",
        {**everyone(DENIED), "applicant": OK, "other_person": OK},
    ),
    "api:my_data_use_flag": Rule(
        "post",
        lambda c: f"/api/v1/me/data-uses/{_use_of(c[HANDLING])}/flag",
        {**everyone(DENIED), "applicant": OK, "other_person": HIDDEN},
        body=lambda c: {"reason": "不清楚为何使用"},
    ),
    # the 数据专员's flags: none of these roles is a data officer
    "portal:data_officer": Rule("get", lambda c: "/data-officer/", everyone(DENIED), api=False),
    "portal:data_officer_answer": Rule(
        "post",
        lambda c: "/data-officer/flags/x/answer/",
        everyone(DENIED),
        api=False,
        body=lambda c: {"answer": "已核实"},
    ),
    "api:officer_flags": Rule("get", lambda c: "/api/v1/data-officer/flags", everyone(DENIED)),
    "api:officer_flag_answer": Rule(
        "post",
        lambda c: "/api/v1/data-officer/flags/x/answer",
        everyone(DENIED),
        body=lambda c: {"answer": "已核实"},
    ),
    "portal:online_apply": Rule(
        "get",
        lambda c: "/apply/000501001000/",
        {**everyone(DENIED), "applicant": OK, "other_person": OK},
        api=False,
    ),
    # residents of another province signed in here: where to apply (others are sent on)
    "portal:home_platform": Rule(
        "get",
        lambda c: "/items/000501001000/home-platform/",
        {**everyone(OK), "anonymous": DENIED},
        api=False,
    ),
    # --- cases: one case ---------------------------------------------------------------------
    "api:case_get": case_rule("get", "", HANDLING, allowed=SEES_HANDLING),
    # 数据核验: the staff of the handling organization see them, its officials start one
    "api:case_data_checks": case_rule(
        "get", "/data-checks", HANDLING, allowed={"official", "supervisor"}
    ),
    "api:case_data_check_start": case_rule(
        "post",
        "/data-checks",
        HANDLING,
        allowed={"official"},
        denied={"supervisor"},
        body=lambda c: {"dataset": "none.none", "fields": ["x"], "purpose": "x"},
    ),
    "api:case_material_download": case_rule(
        "get", "/materials/MATERIAL", HANDLING, allowed=SEES_HANDLING
    ),
    "api:case_document": case_rule(
        "get", "/documents/acceptance.pdf", HANDLING, allowed=SEES_HANDLING
    ),
    # the 收件凭证 the sh window issued for the origin case, as OFD
    "api:case_document_ofd": case_rule("get", "/documents/intake.ofd", ORIGIN, allowed=SEES_ORIGIN),
    "api:case_accept": api_decision("accept"),
    "api:case_refuse": api_decision("refuse"),
    "api:case_request_supplements": api_decision("request-supplements"),
    "api:case_approve": api_decision("approve"),
    "api:case_deny": api_decision("deny"),
    # 撤回: the receiving window (or an online applicant's own account); others who see
    # the case may not
    "api:case_withdraw": case_rule(
        "post",
        "/withdraw",
        ORIGIN,
        allowed={"clerk"},
        denied={"applicant", "node_admin"},
        body=lambda c: {"reason": "申请人要求撤回"},
    ),
    "api:case_supply": case_rule(
        "post",
        "/supply",
        ORIGIN,
        allowed={"clerk"},
        body=lambda c: {"materials": materials_payload(("M02",))},
    ),
    # 送达: whoever sees the case reads it; the deciding organization's officials (or the
    # receiving window) record the waybill, the chosen window the pickup — the matrix's cases
    # chose 电子送达 and are not concluded, so an allowed caller gets a 409 for the state
    "api:case_delivery_get": case_rule("get", "/delivery", HANDLING, allowed=SEES_HANDLING),
    "api:case_delivery_waybill": case_rule(
        "post",
        "/delivery/waybill",
        HANDLING,
        allowed={"official"},
        denied={"applicant", "supervisor", "node_admin"},
        body=lambda c: {"carrier": "中国邮政EMS", "waybill": "EA123456789CN"},
    ),
    "api:case_delivery_delivered": case_rule(
        "post",
        "/delivery/delivered",
        ORIGIN,
        allowed={"clerk"},
        denied={"applicant", "node_admin"},
        body=lambda c: {},
    ),
    "api:case_delivery_pickup": case_rule(
        "post",
        "/delivery/pickup",
        ORIGIN,
        allowed=set(),
        denied={"applicant", "clerk", "node_admin"},
        body=lambda c: {"id_number": id_number("31011519880512457")},
    ),
    "portal:case_delivery": case_rule(
        "post",
        "/delivery/waybill/",
        HANDLING,
        allowed={"official"},
        denied={"applicant", "supervisor", "node_admin"},
        api=False,
        body=lambda c: {
            "delivery-waybill-carrier": "中国邮政EMS",
            "delivery-waybill-waybill": "EA123456789CN",
        },
    ),
    "portal:case": case_rule("get", "/", HANDLING, allowed=SEES_HANDLING, api=False),
    "portal:case_data_check": case_rule(
        "post",
        "/data-checks/",
        HANDLING,
        allowed={"official"},
        denied={"supervisor"},
        api=False,
        body=lambda c: {"dataset": "none.none", "fields": ["x"], "purpose": "x"},
    ),
    "portal:case_material": case_rule(
        "get", "/materials/MATERIAL/", HANDLING, allowed=SEES_HANDLING, api=False
    ),
    "portal:case_document": case_rule(
        "get", "/acceptance.pdf".replace("/", "", 0), HANDLING, allowed=SEES_HANDLING, api=False
    ),
    "portal:case_action": page_decision("accept", {"accept-note": "予以受理"}),
    # --- 电子证照: public ---------------------------------------------------------------
    "api:licence_types": Rule("get", lambda c: "/api/v1/licence-types", everyone(OK)),
    "api:status_list": Rule("get", lambda c: "/api/v1/licences/status-lists/sh", everyone(OK)),
    "api:verify": Rule(
        "post",
        lambda c: "/api/v1/licences/verifications",
        everyone(OK),
        body=lambda c: {"qr_text": "TB1:garbage"},
    ),
    # a JSON body instead of a picture: refused for its shape, never for who sends it
    "api:verify_image": Rule(
        "post", lambda c: "/api/v1/licences/verifications/image", everyone(VISIBLE)
    ),
    "portal:verify": Rule("get", lambda c: "/verify/", everyone(OK), api=False),
    # --- printed documents: public (the digest from the QR is the key) --------------------
    "api:document_answer": Rule(
        "get",
        lambda c: "/api/v1/documents/sh-0123456789abcdef0123?digest=" + "0" * 64,
        everyone(HIDDEN),
    ),
    "api:document_verify_api": Rule(
        "post",
        lambda c: "/api/v1/documents/verify",
        everyone(OK),
        body=lambda c: {"qr_text": "TBD1:garbage", "online": False},
    ),
    "portal:licence_status": Rule(
        "get", lambda c: f"/verify/licence/{c[LICENCE]}/", everyone(OK), api=False
    ),
    # --- 电子证照: the holder's wallet (persons only; only their own licences) ---------------
    "api:wallet": Rule("get", lambda c: "/api/v1/wallet", staff_and_people(OK)),
    "api:wallet_uses": Rule("get", lambda c: "/api/v1/wallet/uses", staff_and_people(OK)),
    "api:wallet_entry": Rule("get", lambda c: f"/api/v1/wallet/{c[LICENCE]}", HOLDER_ONLY_API),
    "api:wallet_entry_pdf": Rule(
        "get", lambda c: f"/api/v1/wallet/{c[LICENCE]}/pdf", HOLDER_ONLY_API
    ),
    "api:wallet_entry_ofd": Rule(
        "get", lambda c: f"/api/v1/wallet/{c[LICENCE]}/ofd", HOLDER_ONLY_API
    ),
    "api:presentation_create": Rule(
        "post",
        lambda c: f"/api/v1/wallet/{c[LICENCE]}/presentations",
        HOLDER_ONLY_API,
        body=lambda c: {"fields": ["holder_name"]},
    ),
    "portal:wallet": Rule(
        "get",
        lambda c: "/me/licences/",
        {**everyone(DENIED), "applicant": OK, "other_person": OK},
        api=False,
    ),
    "portal:wallet_entry": Rule(
        "get", lambda c: f"/me/licences/{c[LICENCE]}/", HOLDER_ONLY_PAGE, api=False
    ),
    "portal:wallet_pdf": Rule(
        "get", lambda c: f"/me/licences/{c[LICENCE]}/pdf/", HOLDER_ONLY_PAGE, api=False
    ),
    "portal:wallet_ofd": Rule(
        "get", lambda c: f"/me/licences/{c[LICENCE]}/ofd/", HOLDER_ONLY_PAGE, api=False
    ),
    "portal:wallet_show": Rule(
        "post",
        lambda c: f"/me/licences/{c[LICENCE]}/show/",
        HOLDER_ONLY_PAGE,
        api=False,
        body=lambda c: {"fields_shown": ["holder_name"], "ttl": "60"},
    ),
    # --- 电子证照: the issuing organization (its officials act, its supervisors read) -------
    "api:licence_issue": Rule(
        "post",
        lambda c: "/api/v1/licences",
        {**everyone(DENIED), "official": OK},
        body=lambda c: c["licence_issue_body"],
    ),
    "api:licences_issued": Rule("get", lambda c: "/api/v1/licences", staff_and_people(OK)),
    "api:licence_issued_detail": Rule(
        "get", lambda c: f"/api/v1/licences/issued/{c[LICENCE]}", ISSUER_READS_API
    ),
    "api:licence_issued_pdf": Rule(
        "get", lambda c: f"/api/v1/licences/issued/{c[LICENCE]}/pdf", ISSUER_READS_API
    ),
    "api:licence_issued_ofd": Rule(
        "get", lambda c: f"/api/v1/licences/issued/{c[LICENCE]}/ofd", ISSUER_READS_API
    ),
    "api:licence_status_action": Rule(
        "post",
        lambda c: f"/api/v1/licences/issued/{c[LICENCE]}/suspend",
        ISSUER_ACTS_API,
        body=lambda c: {"reason": "扣分满12分"},
    ),
    "api:licence_renew": Rule(
        "post",
        lambda c: f"/api/v1/licences/issued/{c[LICENCE]}/renewals",
        ISSUER_ACTS_API,
        body=lambda c: {"fields": {}},
    ),
    "api:counters": Rule(
        "get",
        lambda c: "/api/v1/licences/counters",
        {
            **everyone(DENIED),
            "official": OK,
            "other_official": OK,
            "supervisor": OK,
            "node_admin": OK,
        },
    ),
    "portal:issued_licences": Rule(
        "get",
        lambda c: "/work/licences/",
        {**everyone(DENIED), "official": OK, "other_official": OK, "supervisor": OK},
        api=False,
    ),
    # another organization's official may issue, but not in 青浦's name (a bad choice: 400)
    "portal:licence_issue": Rule(
        "post",
        lambda c: "/work/licences/issue/",
        {**everyone(DENIED), "official": OK, "other_official": VISIBLE},
        api=False,
        body=lambda c: c["licence_issue_form"],
    ),
    "portal:issued_licence": Rule(
        "get", lambda c: f"/work/licences/{c[LICENCE]}/", ISSUER_READS_PAGE, api=False
    ),
    "portal:issued_licence_pdf": Rule(
        "get", lambda c: f"/work/licences/{c[LICENCE]}/pdf/", ISSUER_READS_PAGE, api=False
    ),
    "portal:issued_licence_ofd": Rule(
        "get", lambda c: f"/work/licences/{c[LICENCE]}/ofd/", ISSUER_READS_PAGE, api=False
    ),
    "portal:issued_licence_action": Rule(
        "post",
        lambda c: f"/work/licences/{c[LICENCE]}/actions/suspend/",
        {**ISSUER_READS_PAGE, "supervisor": DENIED},
        api=False,
        body=lambda c: {"suspend-reason": "扣分满12分"},
    ),
}
RULES["portal:case_document"].path = lambda c: f"/cases/{c[HANDLING]}/acceptance.pdf"
# the same endpoints on the other case (received at the clerk's window, decided in zj)
MORE_CHECKS = {
    "api:case_get (origin case)": case_rule("get", "", ORIGIN, allowed=SEES_ORIGIN),
    "portal:case (origin case)": case_rule("get", "/", ORIGIN, allowed=SEES_ORIGIN, api=False),
    "portal:case_action supply (origin case)": case_rule(
        "post", "/actions/supply/", ORIGIN, allowed={"clerk"}, api=False, body=lambda c: {}
    ),
    "api:case_accept (origin case: decided elsewhere)": case_rule(
        "post", "/accept", ORIGIN, allowed=set(), body=lambda c: {}
    ),
    # an enterprise's licence: its legal representative and its authorized agent hold it
    "api:wallet_entry (enterprise licence)": Rule(
        "get",
        lambda c: f"/api/v1/wallet/{c[ENTERPRISE_LICENCE]}",
        {**HOLDER_ONLY_API, "other_person": OK},
    ),
    "portal:wallet_entry (enterprise licence)": Rule(
        "get",
        lambda c: f"/me/licences/{c[ENTERPRISE_LICENCE]}/",
        {**HOLDER_ONLY_PAGE, "other_person": OK},
        api=False,
    ),
    # the public status page of a licence issued elsewhere does not exist here
    "portal:licence_status (unknown licence)": Rule(
        "get", lambda c: "/verify/licence/1.2.156.3005.2.unknown/", everyone(HIDDEN), api=False
    ),
    # the API status actions: reinstating a valid licence is refused for its state (409)
    "api:licence_status_action reinstate": Rule(
        "post",
        lambda c: f"/api/v1/licences/issued/{c[LICENCE]}/reinstate",
        {**ISSUER_ACTS_API, "official": VISIBLE},
        body=lambda c: {},
    ),
}


def test_every_route_has_a_rule():
    missing = registered_routes() - set(RULES)
    assert not missing, f"routes without an access rule: {sorted(missing)}"
    stale = set(RULES) - registered_routes()
    assert not stale, f"rules for routes that no longer exist: {sorted(stale)}"


def sample_fields(type_code: str) -> dict:
    """Face data for every item of a licence type (dates for date items)."""
    specs = LicenceType.objects.get(code=type_code).fields
    return {
        f["key"]: "2024-01-01" if f["kind"] == "date" else "示例"
        for f in specs
        if not f.get("same_as")  # validity dates on the face follow valid_from/valid_to
    }


@pytest.fixture
def world(region, settings):
    settings.TONGBAN_SMS_BACKEND = "tongban.identity.sms.LocmemBackend"
    from tongban.identity import sms

    sms._backend.cache_clear()
    # the hub key this node has pinned (published anonymously at /api/v1/trust-anchor)
    trust_anchor_install(
        kid=region.peer_kids["hub"], public_key=region.peer_keys["hub"].public_key_hex
    )
    applicant_id = id_number("31011519880512457")  # a 上海 resident: home node sh (ADR 0010)
    person = person_upsert(name="张伟", id_number=applicant_id, phone="13905731234", home_node="sh")
    other = person_upsert(
        name="王芳", id_number=id_number("32058419930818246"), phone="13913551234", home_node="sh"
    )
    users = {
        "applicant": user_with("applicant", person=person),
        "other_person": user_with("other_person", person=other),
        "clerk": user_with("clerk", role="clerk", window=region.window("sh-310118-01")),
        "other_clerk": user_with("other_clerk", role="clerk", window=region.window("sh-310101-01")),
        "official": user_with("official", role="official", organization=region.org(QINGPU_AMR)),
        "other_official": user_with(
            "other_official", role="official", organization=region.org("上海市松江区市场监督管理局")
        ),
        "supervisor": user_with(
            "supervisor", role="supervisor", organization=region.org(QINGPU_AMR)
        ),
        "node_admin": user_with("node_admin", role="node_admin"),
    }
    for u in users.values():
        if u.kind == "person":
            u.assurance = (
                "L3"  # proven (ADR 0010); unproven accounts: tests/security/test_identity_proof.py
            )
            u.save()
    client = Client()
    # a case received from zj, decided here by 青浦
    handling = "11310118TESTCASE0000001"
    envelope = region.case_submit_envelope(number=handling, applicant_id=applicant_id)
    assert (
        client.post(
            "/api/v1/exchange/inbox", json.dumps(envelope), content_type="application/json"
        ).status_code
        == 200
    )
    # a case received at the sh window for the applicant, decided by 嘉兴 (zj), awaiting supplements
    _, clerk_token = api_token_create(user=users["clerk"], name="t")
    window_application = {
        "window": "sh-310118-01",
        "item": ESTABLISHMENT,
        "organization": region.org(JIAXING_AMR).code,
        "applicant": {"name": "张伟", "id_number": applicant_id, "phone": "13905731234"},
        "form": establishment_form(),
        "materials": materials_payload(),
    }
    r = client.post(
        "/api/v1/cases",
        json.dumps(window_application),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {clerk_token}",
    )
    origin = r.json()["number"]
    event = region.envelope(
        type="case.event",
        correlation=origin,
        seq=1,
        body={
            "number": origin,
            "event": "request_supplements",
            "to_status": "supplement_requested",
            "occurred_at": utc().isoformat(),
            "actor": {"name": "钱程", "place": JIAXING_AMR, "node": "zj"},
            "details": {"missing": [{"material_code": "M02", "name": "公司章程"}]},
        },
    )
    assert (
        client.post(
            "/api/v1/exchange/inbox", json.dumps(event), content_type="application/json"
        ).status_code
        == 200
    )
    from tongban.cases.models import CaseMaterial
    from tongban.directory.models import Node
    from tongban.identity.oidc_provider import public_jwks

    Node.objects.filter(node_id="zj").update(
        oidc_jwks=public_jwks(), oidc_issuer="http://127.0.0.1:8003/o"
    )

    prefix = "91310118MA1K0001"
    code = prefix + "0" + uscc.calc_check_digit(prefix + "00")
    enterprise = Enterprise.objects.create(
        code=code, name="上海青禾数字科技有限公司", legal_representative=person, home_node="sh"
    )
    authorization = AgentAuthorization.objects.create(
        enterprise=enterprise,
        agent=other,
        item_codes=[],
        granted_by=users["applicant"],
        expires_at=utc(days=30),
    )
    licence = licence_issue(
        user=users["official"],
        type_code=SPECIAL_EQUIPMENT,
        organization_code=region.org(QINGPU_AMR).code,
        holder={"name": "张伟", "id_number": applicant_id},
        fields=sample_fields(SPECIAL_EQUIPMENT),
    )
    business = LicenceType.objects.get(name=BUSINESS_LICENCE_NAME)
    enterprise_licence = licence_issue(
        user=users["official"],
        type_code=business.code,
        organization_code=region.org(QINGPU_AMR).code,
        holder={"name": enterprise.name, "id_number": code},
        fields=sample_fields(business.code),
    )
    licence_issue_body = {
        "type": SPECIAL_EQUIPMENT,
        "organization": region.org(QINGPU_AMR).code,
        "holder": {"name": "王芳", "id_number": id_number("32058419930818246")},
        "fields": sample_fields(SPECIAL_EQUIPMENT),
    }
    licence_issue_form = {
        "type": SPECIAL_EQUIPMENT,
        "organization": region.org(QINGPU_AMR).code,
        "holder_name": "王芳",
        "holder_id": id_number("32058419930818246"),
        **{f"f_{k}": v for k, v in sample_fields(SPECIAL_EQUIPMENT).items()},
    }
    return {
        "users": users,
        LICENCE: licence.identifier,
        ENTERPRISE_LICENCE: enterprise_licence.identifier,
        "licence_issue_body": licence_issue_body,
        "licence_issue_form": licence_issue_form,
        HANDLING: handling,
        ORIGIN: origin,
        "material": CaseMaterial.objects.filter(case__number=handling).first().pk,
        "enterprise": code,
        "authorization": authorization.pk,
        "window_application": window_application,
    }


def classify(response) -> str:
    status = response.status_code
    location = response.get("Location", "")
    if status in (301, 302, 303) and "/login/" in location:
        return DENIED
    if status in (401, 403, 405) or status == 429:
        return DENIED
    if status == 404:
        return HIDDEN
    if status >= 500:
        return "error"
    return OK if status < 400 else VISIBLE


def test_access_matrix(world):
    failures = []
    for name, rule in sorted(RULES.items()) + sorted(MORE_CHECKS.items()):
        for role in ROLES:
            client = Client()
            headers = {}
            user = world["users"].get(role)
            if user is not None:
                if rule.api:
                    _, secret = api_token_create(user=user, name="matrix")
                    headers["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
                else:
                    client.force_login(user)
            path = rule.path(world).replace("MATERIAL", str(world["material"]))
            with transaction.atomic():
                if rule.method == "get":
                    response = client.get(path, **headers)
                elif rule.method == "delete":
                    response = client.delete(path, **headers)
                elif rule.api:
                    body = rule.body(world) if rule.body else {}
                    response = client.post(
                        path, json.dumps(body), content_type="application/json", **headers
                    )
                else:
                    response = client.post(path, rule.body(world) if rule.body else {}, **headers)
                transaction.set_rollback(True)
            got, want = classify(response), rule.expected(role)
            if got == "error" or not (got == want or (want == VISIBLE and got == OK)):
                failures.append(
                    f"{name} as {role}: expected {want}, got {got} ({response.status_code})"
                )
    assert not failures, "\n".join(failures)
