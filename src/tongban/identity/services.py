"""Identity writes: accounts, staff assignments, API tokens."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum.cn import uscc

from tongban.errors import DomainError, PermissionDenied
from tongban.gm.sm3 import hmac_sm3, sm3_hex
from tongban.identity.models import (
    AgentAuthorization,
    ApiToken,
    Enterprise,
    OneTimeCode,
    Person,
    StaffAssignment,
    User,
)
from tongban.identity.pii import blind_index, encrypt_identifier
from tongban.identity.residence import home_node_of, id_number_compact, id_number_is_valid
from tongban.identity.security_log import security_event
from tongban.identity.selectors import access_for, identity_proven
from tongban.identity.sms import sms_send

ASSURANCE_ORDER = {"L1": 1, "L2": 2, "L3": 3}


def person_upsert(*, name: str, id_number: str, phone: str = "", home_node: str = "") -> Person:
    index = blind_index(id_number)
    person = Person.objects.filter(id_number_index=index).first()
    if person is None:
        return Person.objects.create(
            name=name,
            id_number_encrypted=encrypt_identifier(id_number),
            id_number_index=index,
            phone_encrypted=encrypt_identifier(phone),
            home_node=home_node,
        )
    if phone and not person.phone_encrypted:
        person.phone_encrypted = encrypt_identifier(phone)
        person.save(update_fields=["phone_encrypted"])
    return person


@transaction.atomic
def staff_create(
    *, username: str, password: str, display_name: str, assignments: list[dict]
) -> User:
    """assignments: [{"role": "clerk", "window": Window} | {"role": "official", "organization": Org}]"""
    user, created = User.objects.get_or_create(
        username=username, defaults={"kind": "staff", "display_name": display_name}
    )
    if created:
        user.set_password(password)
        user.save()
    for a in assignments:
        StaffAssignment.objects.get_or_create(
            user=user, role=a["role"], organization=a.get("organization"), window=a.get("window")
        )
    return user


# What an API token may be limited to; a token carries a subset of its holder's rights.
API_SCOPES = {
    "cases:read": _("查看办件"),
    "cases:write": _("办理办件（收件、审批、补正、网上申请）"),
    "exchange:monitor": _("查看交换投递记录（节点管理员）"),
    "identity:manage": _("管理法人与经办人授权"),
    "licences:read": _("查看电子证照（证照夹、本机构颁发的证照）"),
    "licences:write": _("颁发与管理电子证照、亮证"),
}


@transaction.atomic
def api_token_create(
    *,
    user: User,
    name: str,
    valid_days: int | None = 90,
    scopes: list[str] | None = None,
    auth_method: str = "password",
) -> tuple[ApiToken, str]:
    """Returns the token row and the secret (shown once; only its SM3 is stored)."""
    scopes = sorted(set(scopes)) if scopes else sorted(API_SCOPES)
    unknown = set(scopes) - set(API_SCOPES)
    if unknown:
        raise DomainError(
            "invalid_scope", _("未知的权限范围：%(s)s") % {"s": "、".join(sorted(unknown))}
        )
    secret = "tb_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:64],
        prefix=secret[:8],
        key_digest=sm3_hex(secret.encode()),
        scopes=scopes,
        auth_method=auth_method[:32],
        expires_at=timezone.now() + dt.timedelta(days=valid_days) if valid_days else None,
    )
    security_event("api_token_issued", user=user, token=token.prefix, scopes=",".join(scopes))
    return token, secret


@transaction.atomic
def api_token_revoke(*, user: User, token_id: int) -> bool:
    revoked = bool(
        ApiToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )
    if revoked:
        security_event("api_token_revoked", user=user, token=token_id)
    return revoked


def api_token_authenticate(secret: str) -> ApiToken | None:
    if not secret or not secret.startswith("tb_"):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_digest=sm3_hex(secret.encode()), revoked_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if token is None or not token.user.is_active or (token.expires_at and token.expires_at <= now):
        return None
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


# (model label, encrypted field, blind-index field or None)
PII_FIELDS = [
    ("identity.Person", "id_number_encrypted", "id_number_index"),
    ("identity.Person", "phone_encrypted", None),
    ("cases.Case", "applicant_id_encrypted", "applicant_id_index"),
    ("cases.Case", "applicant_phone_encrypted", None),
    ("exchange.OutboxMessage", "envelope", None),
    ("exchange.InboxMessage", "envelope", None),
    # sample rows of the data-sharing provider (their subject index: `tongban sharing-samples`)
    ("sharing.SampleRecord", "data", None),
]


def pii_reencrypt_all(*, batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every personal identifier with the current SM4 key and recompute
    blind indexes with the current index key. Old SM4 keys must still be in
    TONGBAN_PII_KEYS while this runs; afterwards they can be removed."""
    from django.apps import apps

    from tongban.gm.sm4 import sm4_key_id
    from tongban.identity.pii import (
        blind_index,
        current_key_id,
        decrypt_identifier,
        encrypt_identifier,
    )

    current = current_key_id()
    counts: dict[str, int] = {}
    for label, field, index_field in PII_FIELDS:
        model = apps.get_model(label)
        changed = 0
        last_pk = 0
        while True:
            with transaction.atomic():
                rows = list(
                    model.objects.select_for_update()
                    .filter(pk__gt=last_pk)
                    .exclude(**{field: ""})
                    .order_by("pk")[:batch_size]
                )
                if not rows:
                    break
                for row in rows:
                    token = getattr(row, field)
                    plaintext = decrypt_identifier(token)
                    updates = []
                    if sm4_key_id(token) != current:
                        setattr(row, field, encrypt_identifier(plaintext))
                        updates.append(field)
                    if index_field and getattr(row, index_field) != blind_index(plaintext):
                        setattr(row, index_field, blind_index(plaintext))
                        updates.append(index_field)
                    if updates:
                        row.save(update_fields=updates)
                        changed += 1
                last_pk = rows[-1].pk
        counts[f"{label}.{field}"] = changed
    counts["cases.Case.documents"] = _reencrypt_case_documents(current, batch_size)
    return counts


def _reencrypt_json(value, current: str):
    """Re-encrypt every SM4 token inside a JSON value; returns (value, changed)."""
    from tongban.gm.sm4 import sm4_key_id
    from tongban.identity.pii import decrypt_identifier, encrypt_identifier

    if isinstance(value, str) and value.startswith("sm4gcm:") and sm4_key_id(value) != current:
        return encrypt_identifier(decrypt_identifier(value)), True
    if isinstance(value, dict):
        changed = False
        out = {}
        for k, v in value.items():
            out[k], c = _reencrypt_json(v, current)
            changed = changed or c
        return out, changed
    return value, False


def _reencrypt_case_documents(current: str, batch_size: int) -> int:
    """Identity assertions and form answers keep identifiers as SM4 tokens inside JSON."""
    from tongban.cases.models import Case

    changed = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            rows = list(
                Case.objects.select_for_update()
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .only("pk", "identity_assertion", "form_data")[:batch_size]
            )
            if not rows:
                return changed
            for row in rows:
                assertion, a = _reencrypt_json(row.identity_assertion, current)
                form, f = _reencrypt_json(row.form_data, current)
                if a or f:
                    row.identity_assertion, row.form_data = assertion, form
                    row.save(update_fields=["identity_assertion", "form_data"])
                    changed += 1
            last_pk = rows[-1].pk


MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


def person_fields_clean(
    *, name: str, id_number: str, phone: str, code: str = "invalid_person", message: str = ""
) -> tuple[str, str, str]:
    """Name, 身份证号 (stdnum.cn.ric) and mobile number of a person, or one DomainError
    listing every invalid field (``code``/``message`` name what the caller was filling in)."""
    name = (name or "").strip()
    id_number = (id_number or "").strip().upper()
    phone = (phone or "").strip()
    errors = {}
    if not name or len(name) > 64:
        errors["name"] = _("请填写姓名（不超过64字）")
    if not id_number_is_valid(id_number):
        errors["id_number"] = _("身份证号码无效")
    if not MOBILE_RE.match(phone):
        errors["phone"] = _("手机号码格式不正确")
    if errors:
        raise DomainError(code, message or _("个人信息有误"), details={"fields": errors})
    return name, id_number_compact(id_number), phone


def home_node_require_here(id_number: str) -> None:
    """Online registration only at the person's home node — the province of their
    身份证号 — so that exactly one node in the region vouches for each person."""
    from tongban.directory.models import Node

    home = home_node_of(id_number)
    if home == settings.TONGBAN_NODE:
        return
    node = Node.objects.filter(node_id=home, role="node", active=True).first() if home else None
    if node is None:
        raise DomainError(
            "not_a_region_resident",
            _(
                "长三角各省级平台只为本省（市）户籍居民办理网上注册。请通过国家政务服务平台登录，或携带身份证到任一长三角“一网通办”专窗办理。"
            ),
            status=403,
        )
    raise DomainError(
        "register_at_home_node",
        _("您的身份证号属于%(name)s，请在%(app)s注册和登录：%(url)s")
        % {
            "name": node.name,
            "app": node.app_name or node.name,
            "url": f"{node.base_url.rstrip('/')}/register/",
        },
        status=403,
        details={
            "home_node": node.node_id,
            "register_url": f"{node.base_url.rstrip('/')}/register/",
        },
    )


def person_register(
    *, username: str, name: str, id_number: str, phone: str, password: str, request=None
) -> User:
    """Online registration at the home node: the account is L1 until the phone is verified."""
    name, id_number, phone = person_fields_clean(name=name, id_number=id_number, phone=phone)
    home_node_require_here(id_number)
    username = (username or "").strip()
    if not username or len(username) > 150:
        raise DomainError("invalid_username", _("请填写用户名"))
    try:
        validate_password(password)
    except ValidationError as exc:
        raise DomainError("weak_password", " ".join(exc.messages)) from exc
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            raise DomainError("username_taken", _("用户名已被使用"), status=409)
        existing = Person.objects.filter(id_number_index=blind_index(id_number)).first()
        if existing is not None and (
            existing.name != name
            or (existing.phone_encrypted and existing.phone != phone)
            or User.objects.filter(person=existing).exists()
        ):
            # one answer for every case, so that nobody learns whether a 身份证号 is known here
            security_event("registration_refused", request=request, username=username)
            raise DomainError(
                "registration_refused",
                _(
                    "无法在线注册：信息与本平台已登记的信息不一致，或已注册过账号。请直接登录，或携带身份证到窗口办理。"
                ),
                status=409,
            )
        person = person_upsert(
            name=name, id_number=id_number, phone=phone, home_node=settings.TONGBAN_NODE
        )
        if person.home_node != settings.TONGBAN_NODE:
            person.home_node = settings.TONGBAN_NODE  # the province of the 身份证号
            person.save(update_fields=["home_node"])
        user = User(
            username=username, kind="person", display_name=name, person=person, assurance="L1"
        )
        user.set_password(password)
        user.save()
        security_event("account_registered", request=request, user=user)
    return user


def _otp_digest(user: User, purpose: str, code: str) -> str:
    # keyed: a reader of the database cannot try the million codes offline
    return hmac_sm3(settings.SECRET_KEY.encode(), f"{user.pk}:{purpose}:{code}".encode()).hex()


def otp_issue(*, user: User, purpose: str) -> None:
    """Send a fresh six-digit code to the account's phone (earlier codes stop working).

    At most one code a minute and five an hour per account and purpose."""
    phone = user.person.phone if user.person_id else ""
    if not phone:
        raise DomainError("no_phone", _("该账号没有登记手机号码"))
    now = timezone.now()
    recent = OneTimeCode.objects.filter(
        user=user, purpose=purpose, created_at__gt=now - dt.timedelta(hours=1)
    )
    interval = dt.timedelta(seconds=settings.TONGBAN_OTP_MIN_INTERVAL_SECONDS)
    if (
        recent.filter(created_at__gt=now - interval).exists()
        or recent.count() >= settings.TONGBAN_OTP_MAX_PER_HOUR
    ):
        raise DomainError("otp_too_frequent", _("验证码发送过于频繁，请稍后再试"), status=429)
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic():
        OneTimeCode.objects.filter(user=user, purpose=purpose, used_at__isnull=True).update(
            used_at=timezone.now()
        )
        OneTimeCode.objects.create(
            user=user,
            purpose=purpose,
            code_digest=_otp_digest(user, purpose, code),
            expires_at=timezone.now() + dt.timedelta(seconds=settings.TONGBAN_OTP_TTL_SECONDS),
        )
    minutes = settings.TONGBAN_OTP_TTL_SECONDS // 60
    sms_send(phone, f"【通办】您的验证码为 {code}，{minutes} 分钟内有效。请勿泄露。")


def otp_verify(*, user: User, purpose: str, code: str, request=None) -> None:
    """Check a code; too many wrong tries void it. Raises DomainError when wrong."""
    wrong = None
    with transaction.atomic():
        otp = (
            OneTimeCode.objects.select_for_update()
            .filter(user=user, purpose=purpose, used_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        now = timezone.now()
        if (
            otp is None
            or otp.expires_at <= now
            or otp.attempts >= settings.TONGBAN_OTP_MAX_ATTEMPTS
        ):
            wrong = DomainError("otp_expired", _("验证码已失效，请重新获取"))
        elif not secrets.compare_digest(
            _otp_digest(user, purpose, str(code or "").strip()), otp.code_digest
        ):
            otp.attempts += 1
            otp.save(update_fields=["attempts"])
            wrong = DomainError("otp_wrong", _("验证码错误"))
        else:
            otp.used_at = now
            otp.save(update_fields=["used_at"])
            if purpose == "register" and user.assurance == "L1":
                user.assurance = "L2"
                user.save(update_fields=["assurance"])
    if wrong is not None:
        security_event(wrong.code, request=request, user=user, purpose=purpose)
        raise wrong


def account_raise_in_person(*, person: Person, phone: str, by: User, window) -> User | None:
    """A clerk checked the person's ID card face to face: their local account here
    becomes L3 — only when it is theirs, i.e. registered with the mobile number they
    give at the window (an account someone else opened under their 身份证号 with
    another phone is not raised). Returns the raised account, if any."""
    account = User.objects.filter(person=person).first()
    if (
        account is None
        or account.assurance == "L3"
        or account.federated_issuer
        or person.home_node not in ("", settings.TONGBAN_NODE)
        or not phone
        or person.phone != phone
    ):
        return None
    account.assurance = "L3"
    account.save(update_fields=["assurance"])
    security_event("assurance_raised", user=account, level="L3", by=by.username, window=window.code)
    return account


def account_verify_in_person(
    *, clerk: User, window_code: str, id_number: str, phone: str, request=None
) -> User:
    """当面核验 without an application: the clerk of a window of this node has checked
    the person's ID card; the account they registered here with that phone becomes L3."""
    from tongban.directory.models import Window

    window = Window.objects.filter(
        code=window_code, active=True, node__node_id=settings.TONGBAN_NODE
    ).first()
    if window is None or window.pk not in access_for(clerk).clerk_windows:
        raise PermissionDenied(_("您不是该窗口的受理人员"))
    errors = {}
    id_number = id_number_compact(id_number)
    phone = (phone or "").strip()
    if not id_number_is_valid(id_number):
        errors["id_number"] = _("身份证号码无效")
    if not MOBILE_RE.match(phone):
        errors["phone"] = _("手机号码格式不正确")
    if errors:
        raise DomainError("invalid_person", _("个人信息有误"), details={"fields": errors})
    with transaction.atomic():
        person = (
            Person.objects.select_for_update()
            .filter(id_number_index=blind_index(id_number))
            .first()
        )
        account = User.objects.filter(person=person).first() if person is not None else None
        if account is not None and account.assurance == "L3" and person.phone == phone:
            return account  # already proven
        raised = (
            account_raise_in_person(person=person, phone=phone, by=clerk, window=window)
            if person is not None
            else None
        )
    if raised is None:
        security_event("in_person_check_unmatched", request=request, user=clerk, window=window.code)
        raise DomainError(
            "no_matching_account",
            _(
                "本平台没有以该身份证号和手机号码注册、可当面核验的账号。请让本人先在本平台注册（须为本省户籍），或核对手机号码。"
            ),
            status=404,
        )
    return raised


def assurance_at_least(level: str, required: str) -> bool:
    return ASSURANCE_ORDER.get(level, 0) >= ASSURANCE_ORDER.get(required, 3)


# --- enterprises and their agents (法人 / 经办人) ------------------------------------------


@dataclass(frozen=True)
class RegistryRecord:
    """The registering authority's record of an enterprise (企业登记信息), as its registry
    answered a data check (docs/data-sharing.md §7): the only input an Enterprise is
    created from."""

    uscc: str
    name: str
    legal_representative_id: str
    status: str
    source: str  # the dataset and query that answered, e.g. "sh.enterprise:<query id>"


def enterprise_register(*, user: User, registry: RegistryRecord, request=None) -> Enterprise:
    """The signed-in legal representative's enterprise, as its registry confirmed it.

    Called by ``tongban.sharing.enterprise_registry`` once the registering authority's
    record names this user as the legal representative; a typed code or name is never
    enough (issue 11 §4)."""
    if not isinstance(registry, RegistryRecord):
        raise TypeError("enterprise_register needs the registry's record")
    if not user.person_id or not assurance_at_least(user.assurance, "L2"):
        raise PermissionDenied(_("法定代表人须为实名核验（L2 及以上）的个人用户"))
    code = (registry.uscc or "").strip().upper()
    if not uscc.is_valid(code):
        raise DomainError("invalid_uscc", _("统一社会信用代码无效"))
    if id_number_compact(registry.legal_representative_id) != id_number_compact(
        user.person.id_number
    ):
        raise PermissionDenied(_("登记机关记录的法定代表人不是您"))
    name = (registry.name or "").strip()[:128]
    if not name:
        raise DomainError("invalid_name", _("登记机关的记录缺少企业名称"))
    with transaction.atomic():
        if Enterprise.objects.filter(code=code).exists():
            raise DomainError("enterprise_exists", _("该企业已登记"), status=409)
        enterprise = Enterprise.objects.create(
            code=code,
            name=name,
            legal_representative=user.person,
            home_node=settings.TONGBAN_NODE,
            registered_by=user,
        )
        security_event(
            "enterprise_registered",
            request=request,
            user=user,
            enterprise=code,
            registry=registry.source[:64],
        )
    return enterprise


def _represented(user: User, enterprise_code: str) -> Enterprise:
    enterprise = Enterprise.objects.filter(code=enterprise_code).first()
    if (
        enterprise is None
        or not user.person_id
        or enterprise.legal_representative_id != user.person_id
        or enterprise.code not in access_for(user).enterprise_codes
    ):
        raise PermissionDenied(_("只有法定代表人可以管理经办人授权"))
    return enterprise


def agent_authorize(
    *,
    user: User,
    enterprise_code: str,
    agent_name: str,
    agent_id_number: str,
    item_codes: list[str],
    expires_at: dt.datetime,
    request=None,
) -> AgentAuthorization:
    from tongban.catalog.models import ServiceItem

    enterprise = _represented(user, enterprise_code)
    agent_name = (agent_name or "").strip()
    agent_id_number = (agent_id_number or "").strip().upper()
    if not agent_name or not id_number_is_valid(agent_id_number):
        raise DomainError("invalid_agent", _("经办人姓名或身份证号码无效"))
    now = timezone.now()
    if expires_at <= now:
        raise DomainError("invalid_expiry", _("授权有效期须晚于当前时间"))
    if expires_at > now + dt.timedelta(days=366 * 3):
        raise DomainError("invalid_expiry", _("授权有效期最长三年"))
    codes = sorted(set(item_codes or []))
    known = set(
        ServiceItem.objects.filter(basic_code__in=codes, active=True).values_list(
            "basic_code", flat=True
        )
    )
    if set(codes) - known:
        raise DomainError(
            "unknown_item",
            _("授权事项不存在：%(codes)s") % {"codes": "、".join(sorted(set(codes) - known))},
        )
    with transaction.atomic():
        agent = Person.objects.filter(id_number_index=blind_index(agent_id_number)).first()
        if agent is None:
            agent = person_upsert(name=agent_name, id_number=agent_id_number)
        elif agent.name != agent_name:
            raise DomainError("identity_mismatch", _("经办人姓名与身份证号不匹配"))
        authorization = AgentAuthorization.objects.create(
            enterprise=enterprise,
            agent=agent,
            item_codes=codes,
            granted_by=user,
            expires_at=expires_at,
        )
        agent_authorization_sign(authorization)
        security_event(
            "agent_authorized",
            request=request,
            user=user,
            enterprise=enterprise.code,
            agent=agent.id_number_masked,
            items=",".join(codes) or "*",
        )
    return authorization


AGENT_AUTHORIZATION_FORMAT = "tongban-agent-authorization/1"


def person_id_digest(enterprise_code: str, id_number: str) -> str:
    """SM3 of ``<USCC>:<身份证号>`` (upper case, no spaces): how an agent authorization
    names a person without carrying the number (docs/exchange-protocol.md §10.1)."""
    return sm3_hex(f"{enterprise_code.strip().upper()}:{id_number_compact(id_number)}".encode())


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def agent_authorization_document(authorization: AgentAuthorization) -> dict:
    """The ``tongban-agent-authorization/1`` document of an authorization granted here."""
    enterprise = authorization.enterprise
    representative = enterprise.legal_representative
    return {
        "format": AGENT_AUTHORIZATION_FORMAT,
        "id": authorization.pk,
        "enterprise": {"uscc": enterprise.code, "name": enterprise.name},
        "legal_representative": {
            "name": representative.name,
            "id_sm3": person_id_digest(enterprise.code, representative.id_number),
        },
        "agent": {
            "name": authorization.agent.name,
            "id_sm3": person_id_digest(enterprise.code, authorization.agent.id_number),
        },
        "items": list(authorization.item_codes),
        "expires_at": _iso(authorization.expires_at),
        "issued_by": settings.TONGBAN_NODE,
        "issued_at": _iso(authorization.granted_at),
    }


def agent_authorization_sign(authorization: AgentAuthorization) -> dict:
    """``{document, signature}``: the document signed with this node's SM2 key, stored with
    the authorization (signed once; an authorization stored unsigned is signed now)."""
    from tongban.directory.signing import sign_detached
    from tongban.gm.canonical import canonical_json

    if authorization.signed.get("document") and authorization.signed.get("signature"):
        return authorization.signed
    document = agent_authorization_document(authorization)
    authorization.signed = {
        "document": document,
        "signature": sign_detached(canonical_json(document)),
    }
    AgentAuthorization.objects.filter(pk=authorization.pk).update(signed=authorization.signed)
    return authorization.signed


def agent_authorization_revoke(*, user: User, authorization_id: int, request=None) -> None:
    with transaction.atomic():
        authorization = (
            AgentAuthorization.objects.select_for_update()
            .filter(
                pk=authorization_id,
                enterprise__legal_representative_id=user.person_id or 0,
                enterprise__code__in=access_for(user).enterprise_codes,
            )
            .first()
        )
        if authorization is None:  # also when it exists but is not the caller's to manage
            raise DomainError("not_found", _("授权不存在"), status=404)
        if authorization.revoked_at is None:
            authorization.revoked_at = timezone.now()
            authorization.save(update_fields=["revoked_at"])
            security_event(
                "agent_revoked", request=request, user=user, authorization=authorization.pk
            )


def agent_authorization_for(
    *, user: User, enterprise_code: str, item_code: str
) -> AgentAuthorization | None:
    """The authorization under which ``user`` may act for the enterprise on this item now.

    An authorization names a 身份证号: only an account that proved it is that person
    (L3) acts on it (ADR 0010)."""
    if not user.person_id or not identity_proven(user):
        return None
    now = timezone.now()
    authorizations = AgentAuthorization.objects.filter(
        enterprise__code=enterprise_code,
        agent_id=user.person_id,
        revoked_at__isnull=True,
        expires_at__gt=now,
    ).select_related("enterprise")
    return next((a for a in authorizations if a.covers(item_code, now)), None)
