"""Security events and message log entries enter the audit log in their own transaction,
without personal data in the leaf."""

import json

import pytest
from django.core.management import call_command

from tongban.audit.models import AuditLeaf
from tongban.exchange.message_log import message_log_append
from tongban.exchange.models import MessageLogEntry
from tongban.identity.models import SecurityEvent
from tongban.identity.security_log import security_event, security_event_audit_entry

pytestmark = pytest.mark.django_db


def test_a_security_event_is_a_leaf_without_the_username_or_address(rf):
    request = rf.get("/", REMOTE_ADDR="203.0.113.9")
    security_event("login_failed", request=request, username="zhang.san@example.cn")
    leaf = AuditLeaf.objects.get()
    assert leaf.kind == "security_event"
    row = SecurityEvent.objects.get()
    entry = json.loads(bytes(leaf.entry))
    assert entry == security_event_audit_entry(row)
    assert entry["kind"] == "login_failed" and entry["id"] == row.pk
    assert b"zhang" not in bytes(leaf.entry) and b"203.0.113" not in bytes(leaf.entry)


def test_a_message_log_entry_is_a_leaf_with_its_chain_hash(settings, tmp_path):
    from tongban.directory.signing import signing_key_create

    settings.TONGBAN_KEY_DIR = tmp_path
    signing_key_create(node_id=settings.TONGBAN_NODE)
    for i in range(3):
        message_log_append(
            direction="out",
            kind="envelope",
            message_id=f"m{i}",
            peer="zj",
            type="case.submit",
            content=b"{}",
        )
    leaves = list(AuditLeaf.objects.order_by("index"))
    assert [leaf.kind for leaf in leaves] == ["message_log"] * 3
    last = MessageLogEntry.objects.order_by("position").last()
    assert json.loads(bytes(leaves[-1].entry)) == {
        "position": last.position,
        "entry_hash": last.entry_hash,
    }
    call_command("audit", "checkpoint")
    call_command("audit", "verify")
