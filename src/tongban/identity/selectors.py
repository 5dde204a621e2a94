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
    if user.person_id:
        person_index = user.person.id_number_index
    access = Access(
        user_id=user.pk,
        display_name=user.display_name or user.username,
        node_admin=node_admin,
        clerk_windows=frozenset(clerk),
        decide_orgs=frozenset(decide),
        view_orgs=frozenset(view),
        person_index=person_index,
    )
    user._tongban_access = access
    return access
