"""What a signed-in user may see and do, derived from their assignments."""

from __future__ import annotations

from dataclasses import dataclass, field

from tongban.identity.models import StaffAssignment


@dataclass(frozen=True)
class Access:
    user_id: int | None
    display_name: str = ""
    node_admin: bool = False
    clerk_windows: frozenset[int] = field(default_factory=frozenset)
    decide_orgs: frozenset[str] = field(default_factory=frozenset)  # officials
    view_orgs: frozenset[str] = field(default_factory=frozenset)  # officials + supervisors
    person_index: str = ""
    enterprise_codes: frozenset[str] = field(default_factory=frozenset)  # legal representative of
    agent_scopes: frozenset[tuple[str, str]] = field(default_factory=frozenset)  # (uscc, item|*)

    @property
    def is_staff_member(self) -> bool:
        return bool(self.node_admin or self.clerk_windows or self.view_orgs)


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
    person_index = ""
    enterprise_codes: set[str] = set()
    agent_scopes: set[tuple[str, str]] = set()
    if user.person_id:
        person_index = user.person.id_number_index
        enterprise_codes, agent_scopes = _enterprise_scopes(user.person_id)
    access = Access(
        user_id=user.pk,
        display_name=user.display_name or user.username,
        node_admin=node_admin,
        clerk_windows=frozenset(clerk),
        decide_orgs=frozenset(decide),
        view_orgs=frozenset(view),
        person_index=person_index,
        enterprise_codes=frozenset(enterprise_codes),
        agent_scopes=frozenset(agent_scopes),
    )
    user._tongban_access = access
    return access


def _enterprise_scopes(person_id: int) -> tuple[set[str], set[tuple[str, str]]]:
    from django.utils import timezone

    from tongban.identity.models import AgentAuthorization, Enterprise

    represented = set(
        Enterprise.objects.filter(legal_representative_id=person_id).values_list("code", flat=True)
    )
    scopes: set[tuple[str, str]] = set()
    for code, items in AgentAuthorization.objects.filter(
        agent_id=person_id, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).values_list("enterprise__code", "item_codes"):
        scopes |= {(code, item) for item in items} if items else {(code, "*")}
    return represented, scopes


def enterprises_of(user) -> dict:
    """Enterprises the user represents (with their agents) or may act for."""
    from django.utils import timezone

    from tongban.identity.models import AgentAuthorization, Enterprise

    if not user.is_authenticated or not user.person_id:
        return {"represented": [], "agent_for": []}
    represented = list(
        Enterprise.objects.filter(legal_representative_id=user.person_id)
        .prefetch_related("authorizations__agent")
        .order_by("name")
    )
    agent_for = list(
        AgentAuthorization.objects.filter(
            agent_id=user.person_id, revoked_at__isnull=True, expires_at__gt=timezone.now()
        ).select_related("enterprise")
    )
    return {"represented": represented, "agent_for": agent_for}
