"""Single sign-on as a relying party: a resident of another node (or a person known to
an upstream identity provider) signs in here through their home node.

Endpoints and keys of region nodes come from the hub's signed global configuration,
never from the provider itself; an upstream provider is found by OIDC discovery.
State, nonce and the PKCE verifier live in the session and are used once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import requests
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.conf import settings
from django.contrib.auth import login
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from tongban.directory.models import Node
from tongban.errors import DomainError
from tongban.gm.strict_json import loads_strict
from tongban.identity.models import User
from tongban.identity.oidc_provider import client_id_for
from tongban.identity.residence import home_node_of, id_number_is_valid
from tongban.identity.security_log import security_event
from tongban.identity.services import ASSURANCE_ORDER, person_upsert

SESSION_KEY = "tongban_sso"
UPSTREAM = "upstream"


@dataclass(frozen=True)
class Provider:
    key: str  # node id, or "upstream"
    issuer: str
    authorize_url: str
    token_url: str
    jwks: dict
    client_id: str
    client_secret: str
    name: str
    assurance_cap: str  # the most this provider can vouch for


def _redirect_uri(provider_key: str) -> str:
    return f"{settings.TONGBAN_BASE_URL}/sso/callback/{provider_key}/"


def provider_for(key: str) -> Provider:
    if key == UPSTREAM:
        return _upstream()
    node = Node.objects.filter(node_id=key, role="node", active=True).first()
    if node is None or key == settings.TONGBAN_NODE or not node.oidc_jwks:
        raise DomainError("unknown_provider", _("不支持从该节点登录"), status=404)
    issuer = node.oidc_issuer or f"{node.base_url}/o"
    return Provider(
        key=key,
        issuer=issuer,
        authorize_url=f"{issuer}/authorize/",
        token_url=f"{issuer}/token/",
        jwks=node.oidc_jwks,
        client_id=client_id_for(settings.TONGBAN_NODE),
        client_secret="",
        name=f"{node.app_name or node.name}",
        assurance_cap="L3",
    )


def _upstream() -> Provider:
    conf = settings.TONGBAN_UPSTREAM_OIDC
    if not conf.get("issuer"):
        raise DomainError("unknown_provider", _("未配置上级身份认证平台"), status=404)
    try:
        meta = _json_answer(
            requests.get(f"{conf['issuer']}/.well-known/openid-configuration", timeout=10)
        )
        jwks = _json_answer(requests.get(meta["jwks_uri"], timeout=10))
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ValueError("jwks without keys")
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise DomainError(
            "provider_unavailable", _("身份认证平台暂时无法访问"), status=503
        ) from exc
    return Provider(
        key=UPSTREAM,
        issuer=conf["issuer"],
        authorize_url=meta["authorization_endpoint"],
        token_url=meta["token_endpoint"],
        jwks=jwks,
        client_id=conf["client_id"],
        client_secret=conf.get("client_secret", ""),
        name=conf["name"],
        assurance_cap=conf.get("assurance", "L3"),
    )


def _json_answer(response) -> object:
    """A provider's JSON answer, parsed strictly (I-JSON, bounded size and depth);
    StrictJSONError is a ValueError."""
    return loads_strict(response.content, max_bytes=1 << 20, max_depth=16)


def sso_begin(request, provider_key: str, next_url: str) -> str:
    """Remember state, nonce and PKCE verifier; return the provider's authorization URL."""
    provider = provider_for(provider_key)
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    request.session[SESSION_KEY] = {
        "provider": provider.key,
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "next": next_url if next_url.startswith("/") and not next_url.startswith("//") else "/",
    }
    query = urlencode(
        {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": _redirect_uri(provider.key),
            "scope": "openid profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    return f"{provider.authorize_url}?{query}"


def _refuse(request, reason: str, code: str = "sso_failed") -> DomainError:
    security_event(code, request=request, reason=reason)
    return DomainError(code, _("登录未完成：%(r)s") % {"r": reason}, status=400)


def sso_complete(request, provider_key: str, *, code: str, state: str) -> tuple[User, str]:
    """Exchange the code, verify the ID token against configured keys, sign the person in."""
    pending = request.session.pop(SESSION_KEY, None)  # single use: a replayed state fails
    if (
        not pending
        or pending.get("provider") != provider_key
        or not secrets.compare_digest(str(pending.get("state")), str(state or ""))
    ):
        raise _refuse(request, _("会话已失效或请求被重放"), "sso_state_mismatch")
    provider = provider_for(provider_key)
    try:
        response = requests.post(
            provider.token_url,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": _redirect_uri(provider.key),
                "client_id": provider.client_id,
                "code_verifier": pending["verifier"],
                **({"client_secret": provider.client_secret} if provider.client_secret else {}),
            },
            timeout=10,
        )
        answer = _json_answer(response) if response.status_code == 200 else {}
        id_token = answer.get("id_token") if isinstance(answer, dict) else None
        if not isinstance(id_token, str) or len(id_token) > 16_384:
            id_token = None
    except (requests.RequestException, ValueError):
        id_token = None
    if not id_token:
        raise _refuse(request, _("认证平台未返回有效凭证"))
    try:
        token = jwt.decode(id_token, KeySet.import_key_set(provider.jwks), algorithms=["RS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": provider.client_id},
            nonce={"essential": True, "value": pending["nonce"]},
            exp={"essential": True},
            sub={"essential": True},
        ).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise _refuse(request, _("身份凭证校验失败"), "sso_bad_token") from exc
    claims = token.claims
    try:
        user = federated_user(provider=provider, claims=claims)
    except DomainError as refusal:
        security_event(refusal.code, request=request, provider=provider.key)
        raise
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session["authenticated_at"] = timezone.now().isoformat()
    request.session["auth_method"] = f"sso:{provider.key}"
    security_event("sso_login", request=request, user=user, provider=provider.key)
    return user, pending["next"]


def federated_user(*, provider: Provider, claims: dict) -> User:
    name = str(claims.get("name") or "").strip()
    id_number = str(claims.get("cn_ric") or "").strip().upper()
    if not name or not id_number_is_valid(id_number):
        raise DomainError("sso_incomplete", _("认证平台未提供有效的实名信息"), status=400)
    acr = str(claims.get("acr") or "L1")
    if acr not in ASSURANCE_ORDER:
        acr = "L1"
    cap = provider.assurance_cap
    assurance = acr if ASSURANCE_ORDER[acr] <= ASSURANCE_ORDER[cap] else cap
    if provider.key == UPSTREAM:
        # the national platform verifies real names itself; a region resident's home is
        # the province of their 身份证号, anyone else's the node they signed in at
        assurance, home = cap, (home_node_of(id_number) or settings.TONGBAN_NODE)
    else:
        # a region node vouches only for its own residents: the province of the 身份证号
        # (ADR 0010), whatever the token says
        home = str(claims.get("home_node") or "")
        if home != provider.key or home_node_of(id_number) != provider.key:
            raise DomainError(
                "sso_not_home_node", _("该节点只能为本地居民出具身份凭证"), status=400
            )
    with transaction.atomic():
        person = person_upsert(name=name, id_number=id_number, home_node=home)
        local = User.objects.filter(person=person).first()
        if local is not None and not local.federated_issuer:
            if provider.key != UPSTREAM:
                # another node may not sign anyone into an account of this node
                raise DomainError(
                    "sso_local_account", _("您在本平台已有账号，请直接用本平台账号登录"), status=400
                )
            if local.assurance != "L3":
                # verified upstream: the proven person owns this identity. The account may
                # have been opened by someone else with only a phone, so its password and
                # sessions end; the person signs in through the national platform (or
                # sets a new password at a window)
                local.assurance = assurance
                local.set_unusable_password()
                local.save(update_fields=["assurance", "password"])
            return local
        if local is not None and local.federated_issuer != provider.issuer:
            raise DomainError(
                "sso_conflict", _("该身份已通过其他平台登录过，请使用原登录方式"), status=400
            )
        user, created = User.objects.get_or_create(
            federated_issuer=provider.issuer,
            federated_subject=str(claims["sub"]),
            defaults={
                "username": f"{provider.key}:{claims['sub']}"[:150],
                "kind": "person",
                "display_name": name,
                "person": person,
                "assurance": assurance,
            },
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
    return user
