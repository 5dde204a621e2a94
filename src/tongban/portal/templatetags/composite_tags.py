"""A member case's place in its 联办件 (portal/includes/case_composite.html)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def composite_member_box(context, case) -> dict | None:
    """Which 联办件 the case belongs to, its step, and the earlier steps' outputs."""
    from tongban.portal.composite_views import member_box

    access = context.get("access")
    if access is None:
        from tongban.identity.selectors import access_for

        access = access_for(getattr(context.get("request"), "user", None))
    return member_box(access, case)
