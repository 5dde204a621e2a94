"""Create this node's demo accounts (idempotent) and print them."""

import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from tongban.directory.models import Organization, Window
from tongban.directory.services import configuration_poll, current_configuration
from tongban.identity.demo_accounts import (
    AGENTS,
    DATA_OFFICERS,
    DEMO_PASSWORD,
    ENTERPRISES,
    NAMED_OFFICIALS,
    PERSONS,
    WENZHOU_RESIDENT,
    WINDOW_CLERKS,
)
from tongban.identity.models import AgentAuthorization, Enterprise, StaffAssignment, User
from tongban.identity.services import person_upsert, staff_create


class Command(BaseCommand):
    help = "Create demo staff and resident accounts for this node (sample data)."

    def handle(self, *args, **opts):
        node = settings.TONGBAN_NODE
        if node == "hub":
            return self._hub_operator()
        if current_configuration() is None:
            configuration_poll()
        lines = []
        with transaction.atomic():
            admin = staff_create(
                username=f"{node}.admin",
                password=DEMO_PASSWORD,
                display_name=f"{node} 节点管理员",
                assignments=[],
            )
            admin.is_staff = admin.is_superuser = True
            admin.save()
            StaffAssignment.objects.get_or_create(user=admin, role="node_admin")
            lines.append((admin.username, "节点管理员"))
            for window in Window.objects.filter(node__node_id=node, active=True):
                username, name = WINDOW_CLERKS.get(
                    window.code, (f"{window.code}.clerk", window.name)
                )
                staff_create(
                    username=username,
                    password=DEMO_PASSWORD,
                    display_name=name,
                    assignments=[{"role": "clerk", "window": window}],
                )
                lines.append((username, f"窗口受理 · {window.name}"))
            orgs = Organization.objects.filter(node__node_id=node, active=True).order_by("code")
            for i, org in enumerate(orgs, 1):
                username, name = NAMED_OFFICIALS.get(
                    org.name,
                    (f"{node}.official.{i:02d}", f"审批员（{org.short_name or org.name}）"),
                )
                staff_create(
                    username=username,
                    password=DEMO_PASSWORD,
                    display_name=name,
                    assignments=[{"role": "official", "organization": org}],
                )
                lines.append((username, f"审批 · {org.name}"))
                if org.name in DATA_OFFICERS:
                    officer, officer_name = DATA_OFFICERS[org.name]
                    staff_create(
                        username=officer,
                        password=DEMO_PASSWORD,
                        display_name=officer_name,
                        assignments=[{"role": "data_officer", "organization": org}],
                    )
                    lines.append((officer, f"数据专员 · {org.name}（数据使用异议）"))
            # 监督人员: sees the node's organizations' cases and their time limits (时限监督)
            supervisor = staff_create(
                username=f"{node}.supervisor",
                password=DEMO_PASSWORD,
                display_name=f"{node} 监督人员",
                assignments=[{"role": "supervisor", "organization": org} for org in orgs],
            )
            lines.append((supervisor.username, "监督人员 · 本节点全部机构（时限监督）"))
            if node in PERSONS:
                resident = self._resident(*PERSONS[node], node=node, assurance="L3")
                lines.append(
                    (resident.username, f"个人用户（L3，已当面核验）· {resident.display_name}")
                )
                agent = self._resident(*AGENTS[node], node=node, assurance="L3")
                name, code = ENTERPRISES[node]
                enterprise, _ = Enterprise.objects.get_or_create(
                    code=code,
                    defaults={
                        "name": name,
                        "legal_representative": resident.person,
                        "home_node": node,
                    },
                )
                if not enterprise.authorizations.filter(
                    agent=agent.person, revoked_at__isnull=True
                ).exists():
                    AgentAuthorization.objects.create(
                        enterprise=enterprise,
                        agent=agent.person,
                        item_codes=[],
                        granted_by=resident,
                        expires_at=timezone.now() + dt.timedelta(days=365),
                    )
                lines.append((resident.username, f"法定代表人 · {name}（{code}）"))
                lines.append(
                    (agent.username, f"企业经办人（L3，已当面核验；全部事项，一年）· {name}")
                )
            if node == "zj":
                wenzhou = self._resident(*WENZHOU_RESIDENT, node=node, assurance="L3")
                lines.append(
                    (
                        wenzhou.username,
                        f"个人用户（L3，温州）· {wenzhou.display_name}；"
                        "上海青浦登记企业的法定代表人（在“我的企业”经登记机关核验后登记）",
                    )
                )
        for username, what in lines:
            self.stdout.write(f"{username:28} {what}")

    def _hub_operator(self) -> None:
        """The hub's operator (枢纽管理员): the region-wide view of 联办件, no personal data."""
        with transaction.atomic():
            operator = staff_create(
                username="hub.operator",
                password=DEMO_PASSWORD,
                display_name="枢纽运行值班员",
                assignments=[{"role": "hub_admin"}],
            )
        self.stdout.write(
            f"{operator.username:28} 枢纽管理员 · 联办件全域进度（/region/composites/）"
        )

    def _resident(self, username, name, id_number, phone, *, node, assurance):
        person = person_upsert(name=name, id_number=id_number, phone=phone, home_node=node)
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "kind": "person",
                "display_name": name,
                "person": person,
                "assurance": assurance,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user
