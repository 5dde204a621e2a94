"""What a signed-in user may see and do, derived from their assignments."""

from __future__ import annotations

from dataclasses import dataclass, field

from tongban.identity.models import StaffAssignment


@dataclass(frozen=True)
class Access:
    """What a user may see. A person's claim on records that others made under their
    身份证号 (window cases, cases from other nodes, licences, enterprises, agent
    authorizations, data uses) needs a proven identity (L3); an account that only
    proved a phone sees what it made itself (ADR 0010)."""

    user_id: int | None
    display_name: str = ""
    node_admin: bool = False
    hub_admin: bool = False  # 枢纽管理员: the hub's region-wide views
    clerk_windows: frozenset[int] = field(default_factory=frozenset)
    decide_orgs: frozenset[str] = field(default_factory=frozenset)  # officials
    view_orgs: frozenset[str] = field(default_factory=frozenset)  # officials + supervisors
    person_index: str = ""  # blind index of the 身份证号 — only for a proven identity
    person_account: int | None = None  # a person's own account: the cases it applied for
    vouched_as: str = ""  # "<node>:<account>" a federated account was vouched for as
    enterprise_codes: frozenset[str] = field(default_factory=frozenset)  # legal representative of
    agent_scopes: frozenset[tuple[str, str]] = field(default_factory=frozenset)  # (uscc, item|*)

    @property
    def is_staff_member(self) -> bool:
        return bool(self.node_admin or self.hub_admin or self.clerk_windows or self.view_orgs)

    @property
    def is_person(self) -> bool:
        return self.person_account is not None

    @property
    def identity_proven(self) -> bool:
        return bool(self.person_index)


ANONYMOUS = Access(user_id=None)


def access_for(user) -> Access:
    """The access of ``user`` (cached on the user object for the request)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return ANONYMOUS
    cached = getattr(user, "_tongban_access", None)
    if cached is not None:
        return cached
    clerk, decide, view = set(), set(), set()
    node_admin = user.is_superuser
    hub_admin = False
    rows = StaffAssignment.objects.filter(user=user).values_list(
        "role", "organization__code", "window_id"
    )
    for role, org_code, window_id in rows:
        if role == "clerk" and window_id:
            clerk.add(window_id)
        elif role == "official" and org_code:
            decide.add(org_code)
            view.add(org_code)
        elif role == "supervisor" and org_code:
            view.add(org_code)
        elif role == "node_admin":
            node_admin = True
        elif role == "hub_admin":
            hub_admin = True
    person_index, person_account, vouched_as = "", None, ""
    enterprise_codes: set[str] = set()
    agent_scopes: set[tuple[str, str]] = set()
    if user.kind == "person" and user.person_id:
        person_account = user.pk
        proven = identity_proven(user)
        if proven:
            person_index = user.person.id_number_index
        vouched_as = federated_vouched_as(user)
        enterprise_codes, agent_scopes = _enterprise_scopes(user, proven=proven)
    access = Access(
        user_id=user.pk,
        display_name=user.display_name or user.username,
        node_admin=node_admin,
        hub_admin=hub_admin,
        clerk_windows=frozenset(clerk),
        decide_orgs=frozenset(decide),
        view_orgs=frozenset(view),
        person_index=person_index,
        person_account=person_account,
        vouched_as=vouched_as,
        enterprise_codes=frozenset(enterprise_codes),
        agent_scopes=frozenset(agent_scopes),
    )
    user._tongban_access = access
    return access


def identity_proven(user) -> bool:
    """Whether the account proved who its person is — face to face at a window, through
    the national platform, or vouched for at that level by the person's home node —
    rather than only control of a phone."""
    return bool(getattr(user, "kind", "") == "person" and user.person_id and user.assurance == "L3")


def federated_vouched_as(user) -> str:
    """For an account signed in through another region node: "<node>:<subject>", the
    account that node vouches for in the envelopes of its online applications."""
    if not user.federated_issuer or ":" not in user.username:
        return ""
    node, _, subject = user.username.partition(":")
    if subject != user.federated_subject or node == "upstream":
        return ""
    return f"{node}:{subject}"


def _enterprise_scopes(user, *, proven: bool) -> tuple[set[str], set[tuple[str, str]]]:
    from django.db.models import Q
    from django.utils import timezone

    from tongban.identity.models import AgentAuthorization, Enterprise

    mine = Q(registered_by_id=user.pk)
    if proven:
        mine |= Q(legal_representative_id=user.person_id)
    represented = set(Enterprise.objects.filter(mine).values_list("code", flat=True))
    scopes: set[tuple[str, str]] = set()
    if not proven:  # an authorization names a 身份证号: only its proven holder acts on it
        return represented, scopes
    for code, items in AgentAuthorization.objects.filter(
        agent_id=user.person_id, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).values_list("enterprise__code", "item_codes"):
        scopes |= {(code, item) for item in items} if items else {(code, "*")}
    return represented, scopes


def enterprises_of(user) -> dict:
    """Enterprises the user represents (with their agents) or may act for."""
    from django.utils import timezone

    from tongban.identity.models import AgentAuthorization, Enterprise

    if not user.is_authenticated or not user.person_id:
        return {"represented": [], "agent_for": []}
    access = access_for(user)
    represented = list(
        Enterprise.objects.filter(code__in=access.enterprise_codes)
        .prefetch_related("authorizations__agent")
        .order_by("name")
    )
    agent_for = []
    if access.identity_proven:
        agent_for = list(
            AgentAuthorization.objects.filter(
                agent_id=user.person_id, revoked_at__isnull=True, expires_at__gt=timezone.now()
            ).select_related("enterprise")
        )
    return {"represented": represented, "agent_for": agent_for}
