"""Signing in (password, then an SMS code for residents), single sign-on through a
resident's home node, and online registration.

The flows themselves are in ``tongban.identity`` (``login_flow``, ``federation``,
``services``); these views only carry the input there and show what comes back.
"""

from __future__ import annotations

import re
import time
from functools import wraps
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.csp import CSP
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from tongban.catalog.selectors import item_detail
from tongban.directory.models import Node
from tongban.errors import DomainError
from tongban.identity import federation, login_flow
from tongban.identity.assurance import assurance_meaning
from tongban.identity.models import User
from tongban.identity.security_log import security_event
from tongban.identity.services import otp_issue, otp_verify, person_register
from tongban.portal.context import node_app_name, node_name
from tongban.portal.forms import CodeForm, LoginForm, RegisterForm

LOGIN_NEXT = "tongban_login_next"
REGISTERING = "tongban_registering"
SMS_SENT = "tongban_sms_sent"
RESEND_SECONDS = 60  # a new code at most once a minute per purpose and session


# --- helpers ---------------------------------------------------------------------------


def _safe_next(request, value: str | None) -> str:
    """A same-site path to continue to after signing in, or ""."""
    value = (value or "").strip()
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return ""


def _relative(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") else ""


def _continue(next_url: str):
    return HttpResponseRedirect(next_url or reverse(settings.LOGIN_REDIRECT_URL))


def _allow_region_form_targets(response, next_url: str):
    """Signing in on the way to this node's OpenID Connect authorization ends in a
    redirect to another node's callback: the form's CSP must allow that target."""
    if next_url.startswith("/o/"):
        origins = sorted(
            Node.objects.filter(role="node", active=True)
            .exclude(node_id=settings.TONGBAN_NODE)
            .values_list("base_url", flat=True)
        )
        response._csp_config = {
            **settings.SECURE_CSP,
            "form-action": [CSP.SELF, *[o.rstrip("/") for o in origins]],
        }
    return response


def _code_input(request):
    """The submitted code, if this request submits one (not a GET, not a resend)."""
    if request.method == "POST" and request.POST.get("action") != "resend":
        return request.POST
    return None


def _sent_recently(request, purpose: str) -> int:
    """Seconds to wait before another code may be sent (0: now)."""
    sent = (request.session.get(SMS_SENT) or {}).get(purpose)
    if not sent:
        return 0
    return max(0, int(RESEND_SECONDS - (time.time() - float(sent))))


def _mark_sent(request, purpose: str) -> None:
    sent = dict(request.session.get(SMS_SENT) or {})
    sent[purpose] = time.time()
    request.session[SMS_SENT] = sent


def _resend(request, user: User, purpose: str) -> int:
    """Send a new code unless one went out a moment ago; returns the status to show."""
    wait = _sent_recently(request, purpose)
    if wait:
        messages.error(request, _("请 %(s)s 秒后再重新发送验证码") % {"s": wait})
        return 429
    try:
        otp_issue(user=user, purpose=purpose)
    except DomainError as error:
        messages.error(request, error.message)
        return 400
    _mark_sent(request, purpose)
    messages.success(request, _("新的验证码已发送，之前的验证码不再有效"))
    return 200


def other_region_nodes() -> list[dict]:
    """Nodes a resident of which can sign in here through their home node."""
    nodes = (
        Node.objects.filter(role="node", active=True)
        .exclude(node_id=settings.TONGBAN_NODE)
        .order_by("node_id")
    )
    return [
        {
            "id": n.node_id,
            "app": node_app_name(n.node_id),
            "name": node_name(n.node_id),
        }
        for n in nodes
        if n.oidc_jwks
    ]


# --- login ---------------------------------------------------------------------------------


def _relying_platform(next_url: str) -> dict | None:
    """Signing in here for another node (this node as its OpenID Connect provider):
    which platform asked, from the authorization request's client id."""
    parts = urlsplit(next_url or "")
    if not parts.path.startswith("/o/authorize"):
        return None
    client_id = (parse_qs(parts.query).get("client_id") or [""])[0]
    node_id = client_id.removeprefix("tongban-") if client_id.startswith("tongban-") else ""
    node = (
        Node.objects.filter(node_id=node_id, role="node", active=True)
        .exclude(node_id=settings.TONGBAN_NODE)
        .first()
        if node_id
        else None
    )
    if node is None:
        return None
    return {
        "id": node.node_id,
        "name": node_name(node.node_id),
        "app": node_app_name(node.node_id),
    }


def _province_platforms(path: str) -> list[dict]:
    """The four provinces' platforms, each with the address of ``path`` there."""
    nodes = Node.objects.filter(role="node", active=True).order_by("node_id")
    order = {"sh": 0, "js": 1, "zj": 2, "ah": 3}
    rows = [
        {
            "id": n.node_id,
            "name": node_name(n.node_id),
            "app": node_app_name(n.node_id),
            "url": f"{n.base_url.rstrip('/')}{path}",
        }
        for n in nodes
        if n.base_url
    ]
    return sorted(rows, key=lambda r: (order.get(r["id"], 9), r["id"]))


def login_view(request):
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_authenticated and request.method != "POST":
        return _continue(next_url)
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                user = login_flow.login_begin(
                    request,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password"],
                )
            except DomainError as error:
                form.add_error(None, error.message)
                status = error.status if 400 <= error.status < 500 else 400
            else:
                if user is not None:  # staff: signed in with the password
                    return _continue(next_url)
                request.session[LOGIN_NEXT] = next_url
                return redirect("portal:login_code")
        else:
            status = 400
    upstream = settings.TONGBAN_UPSTREAM_OIDC
    relying = _relying_platform(next_url)
    hub = settings.TONGBAN_ROLE == "hub"
    # signing in for another platform, only this node's own residents can be vouched
    # for: no other sign-in is offered (another node's would loop back); the hub
    # has no residents at all
    offer_sso = relying is None and not hub
    response = render(
        request,
        "portal/login.html",
        {
            "form": form,
            "next": next_url,
            "relying": relying,
            "hub": hub,
            # on the way to an online application: the same item at each province
            "provinces": _province_platforms(
                f"/items/{code}/" if (code := _apply_target(next_url)) else "/login/"
            )
            if hub
            else [],
            "region_nodes": other_region_nodes() if offer_sso else [],
            "upstream_name": upstream.get("name") if offer_sso and upstream.get("issuer") else "",
        },
        status=status,
    )
    return _allow_region_form_targets(response, next_url)


def login_code(request):
    """Step 2 for residents: the code sent to the registered mobile number.

    The page says whether the code was just sent or is one sent earlier that still
    works, and how long until another may be sent."""
    user = login_flow.login_pending_user(request)
    if user is None:
        if request.user.is_authenticated:
            return redirect("portal:home")
        messages.info(request, _("请先输入用户名和密码"))
        return redirect("portal:login")
    next_url = _safe_next(request, request.session.get(LOGIN_NEXT))
    form = CodeForm(_code_input(request))
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "resend":
            try:
                login_flow.login_resend(request)
            except DomainError as error:
                messages.error(request, error.message)
                status = error.status if 400 <= error.status < 500 else 400
            else:
                messages.success(request, _("新的验证码已发送，之前的验证码不再有效"))
                return redirect("portal:login_code")
        elif form.is_valid():
            try:
                login_flow.login_finish(request, code=form.cleaned_data["code"])
            except DomainError as error:
                form.add_error("code", error.message)
                status = error.status if 400 <= error.status < 500 else 400
            else:
                request.session.pop(LOGIN_NEXT, None)
                request.session.pop(SMS_SENT, None)
                return _continue(next_url)
        else:
            status = 400
    state = login_flow.page_code_state(request, user)
    since = login_flow.login_pending_since(request)
    response = render(
        request,
        "portal/login_code.html",
        {
            "form": form,
            "phone": user.person.phone_masked if user.person_id else "",
            "minutes": settings.TONGBAN_OTP_TTL_SECONDS // 60,
            "code": state,
            # a code sent before this sign-in began: "仍可使用"
            "earlier": bool(state.sent_at and since and state.sent_at < since),
            "relying": _relying_platform(next_url),
            "max_per_hour": settings.TONGBAN_OTP_MAX_PER_HOUR,
        },
        status=status,
    )
    return _allow_region_form_targets(response, next_url)


# --- single sign-on ---------------------------------------------------------------------------


def _sso_error(request, error: DomainError, provider: str):
    status = error.status if 400 <= error.status < 600 and error.status != 500 else 400
    return render(
        request,
        "portal/sso_error.html",
        {"message": error.message, "provider": provider},
        status=status,
    )


@require_GET
def sso_start(request, provider: str):
    next_url = _relative(_safe_next(request, request.GET.get("next"))) or "/"
    try:
        url = federation.sso_begin(request, provider, next_url)
    except DomainError as error:
        return _sso_error(request, error, provider)
    return HttpResponseRedirect(url)


@require_GET
def sso_callback(request, provider: str):
    if request.GET.get("error"):
        # the provider declined (e.g. the person cancelled): the attempt is over
        request.session.pop(federation.SESSION_KEY, None)
        security_event("sso_declined", request=request, provider=provider)
        error = DomainError("sso_declined", _("登录未完成：认证平台拒绝了请求"), status=400)
        return _sso_error(request, error, provider)
    try:
        _user, next_url = federation.sso_complete(
            request,
            provider,
            code=request.GET.get("code", ""),
            state=request.GET.get("state", ""),
        )
    except DomainError as error:
        return _sso_error(request, error, provider)
    target = _relative(next_url) or "/"
    basic_code = _apply_target(target)
    if basic_code and _home_platform(request.user) is not None:
        # online applications are made at home: say so, and where, instead of a form
        # that cannot be sent
        return redirect("portal:home_platform", basic_code=basic_code)
    return HttpResponseRedirect(target)


def _apply_target(path: str) -> str:
    """The item of an online-application path ("/apply/<code>/"), or ""."""
    match = re.fullmatch(r"/apply/([0-9A-Za-z]{1,32})/(?:\?.*)?", path)
    return match.group(1) if match else ""


def _home_platform(user) -> Node | None:
    """The home node of a resident signed in here who lives elsewhere in the region
    (where they apply online), or None."""
    person = getattr(user, "person", None) if getattr(user, "kind", "") == "person" else None
    if person is None or person.home_node in ("", settings.TONGBAN_NODE):
        return None
    return Node.objects.filter(node_id=person.home_node, role="node", active=True).first()


@login_required
@require_GET
def home_platform_handoff(request, basic_code: str):
    """A resident of another province, here through single sign-on, wants to apply
    online: the same item on their home platform, with why."""
    item = item_detail(basic_code=basic_code)
    if item is None:
        raise Http404(_("事项不存在"))
    home = _home_platform(request.user)
    if home is None:
        # a resident of this node applies here; anyone else reads the item page
        if getattr(request.user, "kind", "") == "person":
            return redirect("portal:online_apply", basic_code=item.basic_code)
        return redirect("portal:item", basic_code=item.basic_code)
    base = home.base_url.rstrip("/")
    return render(
        request,
        "portal/home_platform_handoff.html",
        {
            "item": item,
            "home": {
                "id": home.node_id,
                "name": node_name(home.node_id),
                "app": node_app_name(home.node_id),
                "item_url": f"{base}/items/{item.basic_code}/",
            },
        },
    )


# --- the hub has no residents -------------------------------------------------------------


def residents_only(view):
    """Registration is at a province's platform: on the hub the page says where."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if settings.TONGBAN_ROLE == "hub":
            return render(
                request,
                "portal/register_elsewhere.html",
                {"provinces": _province_platforms("/register/")},
                status=200 if request.method in ("GET", "HEAD") else 403,
            )
        return view(request, *args, **kwargs)

    return wrapper


# --- registration ----------------------------------------------------------------------------


def register(request):
    if request.user.is_authenticated:
        return redirect("portal:my_cases")
    form = RegisterForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = person_register(
                    username=data["username"],
                    name=data["name"],
                    id_number=data["id_number"],
                    phone=data["phone"],
                    password=data["password1"],
                    request=request,
                )
                otp_issue(user=user, purpose="register")
            except DomainError as error:
                form.apply_register_error(error)
                status = error.status if 400 <= error.status < 500 else 400
            else:
                request.session[REGISTERING] = user.pk
                _mark_sent(request, "register")
                return redirect("portal:register_verify")
        else:
            status = 400
    return render(request, "portal/register.html", {"form": form}, status=status)


def _registering_user(request) -> User | None:
    pk = request.session.get(REGISTERING)
    return User.objects.filter(pk=pk, is_active=True, kind="person").first() if pk else None


def register_verify(request):
    user = _registering_user(request)
    if user is None:
        return redirect("portal:register")
    form = CodeForm(_code_input(request))
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "resend":
            status = _resend(request, user, "register")
            if status == 200:
                return redirect("portal:register_verify")
        elif form.is_valid():
            try:
                otp_verify(
                    user=user, purpose="register", code=form.cleaned_data["code"], request=request
                )
            except DomainError as error:
                form.add_error("code", error.message)
                status = error.status if 400 <= error.status < 500 else 400
            else:
                user.refresh_from_db()
                request.session.pop(REGISTERING, None)
                request.session.pop(SMS_SENT, None)
                login_flow.login_complete(request, user, method="password+sms_otp")
                messages.success(
                    request,
                    _("注册成功，手机号已验证，您的实名等级为“%(level)s”")
                    % {"level": assurance_meaning(user.assurance)},
                )
                return redirect("portal:my_cases")
        else:
            status = 400
    return render(
        request,
        "portal/register_verify.html",
        {
            "form": form,
            "phone": user.person.phone_masked,
            "minutes": settings.TONGBAN_OTP_TTL_SECONDS // 60,
        },
        status=status,
    )
