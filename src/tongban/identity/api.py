"""/api/v1/auth — registration and API tokens; /api/v1/enterprises — 法人 and 经办人."""

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Path, Router, Schema, Status

from tongban.api_errors import MAX_ID, errors
from tongban.errors import DomainError
from tongban.identity import services
from tongban.identity.authentication import api_auth, requires_scope
from tongban.identity.login_flow import needs_second_factor, password_check
from tongban.identity.masking import mask_phone
from tongban.identity.models import User
from tongban.identity.selectors import enterprises_of

router = Router(tags=["identity"])


class TokenIn(Schema):
    username: str
    password: str
    otp: str = ""
    name: str = "api"
    scopes: list[str] = []


class TokenOut(Schema):
    id: int
    token: str
    scopes: list[str]
    expires_at: str | None


class OtpRequired(Schema):
    otp_required: bool
    message: str


@router.post(
    "/auth/tokens",
    response={201: TokenOut, 202: OtpRequired, **errors(400, 401, 429)},
    summary="换取 API 令牌（个人用户需短信验证码）",
)
def token_create(request, payload: TokenIn):
    """Staff: username + password. Residents: first call sends an SMS code (202);
    call again with ``otp`` to get the token. Wrong passwords count towards lockout."""
    unknown = set(payload.scopes) - set(services.API_SCOPES)
    if unknown:  # before any code is sent or used up
        raise DomainError(
            "invalid_scope", _("未知的权限范围：%(s)s") % {"s": "、".join(sorted(unknown))}
        )
    user = password_check(request, username=payload.username, password=payload.password)
    method = "password"
    if needs_second_factor(user):
        if not payload.otp:
            services.otp_issue(user=user, purpose="login")
            return Status(
                202,
                {
                    "otp_required": True,
                    "message": _("验证码已发送至 %(p)s") % {"p": mask_phone(user.person.phone)},
                },
            )
        services.otp_verify(user=user, purpose="login", code=payload.otp, request=request)
        method = "password+sms_otp"
    token, secret = services.api_token_create(
        user=user, name=payload.name, scopes=payload.scopes, auth_method=method
    )
    return Status(
        201,
        {
            "id": token.pk,
            "token": secret,
            "scopes": token.scopes,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        },
    )


@router.delete(
    "/auth/tokens/{token_id}", auth=api_auth, response={204: None}, summary="撤销 API 令牌"
)
def token_revoke(request, token_id: int = Path(..., ge=1, le=MAX_ID)):
    services.api_token_revoke(user=request.user, token_id=token_id)
    return Status(204, None)


class RegisterIn(Schema):
    username: str
    name: str
    id_number: str
    phone: str
    password: str


class RegisterVerifyIn(Schema):
    username: str
    code: str


@router.post(
    "/auth/register",
    response={202: OtpRequired, **errors(400, 403, 409, 429)},
    summary="个人注册（发送短信验证码）",
)
def register(request, payload: RegisterIn):
    user = services.person_register(
        username=payload.username,
        name=payload.name,
        id_number=payload.id_number,
        phone=payload.phone,
        password=payload.password,
        request=request,
    )
    services.otp_issue(user=user, purpose="register")
    return Status(
        202,
        {
            "otp_required": True,
            "message": _("验证码已发送至 %(p)s") % {"p": mask_phone(payload.phone)},
        },
    )


class AccountOut(Schema):
    username: str
    assurance: str


@router.post(
    "/auth/register/verify",
    response={200: AccountOut, **errors(400)},
    summary="注册：验证手机号（实名等级升为 L2）",
)
def register_verify(request, payload: RegisterVerifyIn):
    user = User.objects.filter(username=payload.username, kind="person").first()
    if user is None:
        raise DomainError("otp_expired", _("验证码已失效，请重新获取"))
    services.otp_verify(user=user, purpose="register", code=payload.code, request=request)
    user.refresh_from_db()
    return {"username": user.username, "assurance": user.assurance}


class EnterpriseIn(Schema):
    code: str
    name: str = ""  # ignored: the name is the registering authority's (data-sharing.md §7)


class EnterpriseClaimOut(Schema):
    id: int
    code: str
    registry_node: str
    status: str  # pending | confirmed | refused
    reason: str
    name: str = ""  # the registered name, once confirmed
    created_at: dt.datetime
    decided_at: dt.datetime | None = None


def _claim(c) -> dict:
    from tongban.identity.models import Enterprise
    from tongban.sharing.enterprise_registry import claim_reason_display

    name = ""
    if c.status == "confirmed":
        name = Enterprise.objects.filter(code=c.uscc).values_list("name", flat=True).first() or ""
    return {
        "id": c.pk,
        "code": c.uscc,
        "registry_node": c.registry_node,
        "status": c.status,
        "reason": claim_reason_display(c.reason),
        "name": name,
        "created_at": c.created_at,
        "decided_at": c.decided_at,
    }


class AgentIn(Schema):
    name: str
    id_number: str
    items: list[str] = []
    expires_at: dt.datetime


class AgentOut(Schema):
    id: int
    agent_name: str
    agent_id_masked: str
    items: list[str]
    expires_at: dt.datetime
    active: bool


class EnterpriseOut(Schema):
    code: str
    name: str
    role: str
    agents: list[AgentOut] = []
    items: list[str] = []
    expires_at: dt.datetime | None = None


def _agent(a) -> dict:
    return {
        "id": a.pk,
        "agent_name": a.agent.name,
        "agent_id_masked": a.agent.id_number_masked,
        "items": a.item_codes,
        "expires_at": a.expires_at,
        "active": a.revoked_at is None and a.expires_at > timezone.now(),
    }


@router.get(
    "/enterprises",
    auth=api_auth,
    response=list[EnterpriseOut],
    summary="我的企业（法定代表人 / 经办人）",
)
@requires_scope("identity:manage")
def enterprise_list(request):
    mine = enterprises_of(request.user)
    out = [
        {
            "code": e.code,
            "name": e.name,
            "role": "legal_representative",
            "agents": [_agent(a) for a in e.authorizations.all()],
        }
        for e in mine["represented"]
    ]
    out += [
        {
            "code": a.enterprise.code,
            "name": a.enterprise.name,
            "role": "agent",
            "items": a.item_codes,
            "expires_at": a.expires_at,
        }
        for a in mine["agent_for"]
    ]
    return out


@router.post(
    "/enterprises",
    auth=api_auth,
    response={202: EnterpriseClaimOut, **errors(400, 403, 409)},
    summary="法定代表人登记企业（经登记机关企业登记信息核验）",
    description=(
        "Starts a claim checked against the registering authority's 企业登记信息; "
        "the claim is pending until the registry answers (GET /enterprises/claims), "
        "then confirmed (the enterprise is listed, named as registered) or refused."
    ),
)
@requires_scope("identity:manage")
def enterprise_create(request, payload: EnterpriseIn):
    from tongban.sharing.enterprise_registry import enterprise_claim_start

    claim = enterprise_claim_start(user=request.user, uscc=payload.code, request=request)
    return Status(202, _claim(claim))


@router.get(
    "/enterprises/claims",
    auth=api_auth,
    response=list[EnterpriseClaimOut],
    summary="我的企业登记核验",
)
@requires_scope("identity:manage")
def enterprise_claims(request):
    from tongban.sharing.enterprise_registry import enterprise_claims_of

    return [_claim(c) for c in enterprise_claims_of(request.user)]


@router.post(
    "/enterprises/{code}/agents",
    auth=api_auth,
    response={201: AgentOut, **errors(400, 403, 404)},
    summary="授权经办人",
)
@requires_scope("identity:manage")
def agent_create(request, code: str, payload: AgentIn):
    a = services.agent_authorize(
        user=request.user,
        enterprise_code=code,
        agent_name=payload.name,
        agent_id_number=payload.id_number,
        item_codes=payload.items,
        expires_at=payload.expires_at,
        request=request,
    )
    return Status(201, _agent(a))


@router.delete(
    "/enterprises/{code}/agents/{authorization_id}",
    auth=api_auth,
    response={204: None, **errors(403, 404)},
    summary="撤销经办人授权",
)
@requires_scope("identity:manage")
def agent_revoke(request, code: str, authorization_id: int = Path(..., ge=1, le=MAX_ID)):
    from tongban.identity.models import AgentAuthorization

    mine = AgentAuthorization.objects.filter(
        pk=authorization_id,
        enterprise__code=code,
        enterprise__legal_representative_id=request.user.person_id or 0,
    )
    if not mine.exists():  # one answer whether it exists elsewhere or not at all
        raise DomainError("not_found", _("授权不存在"), status=404)
    services.agent_authorization_revoke(
        user=request.user, authorization_id=authorization_id, request=request
    )
    return Status(204, None)
