"""Witnesses of the audit logs (docs/exchange-protocol.md §16.5): the cosignature/v1
format signed with SM2, the add-checkpoint checks (trust on first use, consistency from
the size last cosigned, 409 on a stale old size, loud refusal of an inconsistent, smaller
or forked checkpoint) and the endpoints. Across real processes: tests/e2e/test_region_witness.py."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import time

import pytest
from django.utils import timezone

from tongban.audit import merkle, witness
from tongban.audit.checkpoint import EM_DASH, checkpoint_open, checkpoint_text, key_id
from tongban.audit.models import AuditCheckpoint, WitnessedLog
from tongban.audit.services import audit_append, audit_checkpoint_create
from tongban.directory.models import Node, NodeKey
from tongban.directory.signing import signing_key_create
from tongban.errors import DomainError
from tongban.gm import sm2
from tongban.gm.canonical import canonical_json
from tongban.identity.models import SecurityEvent

pytestmark = pytest.mark.django_db

ORIGIN = "tongban/js/audit"
URL = "/api/v1/audit/witness/add-checkpoint"


@pytest.fixture
def node_key(settings, tmp_path):
    settings.TONGBAN_KEY_DIR = tmp_path / "keys"
    return signing_key_create(node_id=settings.TONGBAN_NODE)


@pytest.fixture
def js_key():
    """The js node in this node's directory, with a real SM2 key."""
    key = sm2.SigningKey.generate()
    node = Node.objects.update_or_create(
        node_id="js", defaults={"name": "江苏", "base_url": "http://127.0.0.1:9"}
    )[0]
    NodeKey.objects.create(
        node=node,
        kid="js-test",
        public_key=key.public_key_hex,
        not_before=timezone.now() - dt.timedelta(days=1),
    )
    return key


class PeerLog:
    """An RFC 9162 log of another node, in memory, signing checkpoints with its key."""

    def __init__(self, key, origin=ORIGIN, n=0):
        self.key, self.origin, self.leaves = key, origin, []
        self.add(n)

    def add(self, n, kind="login_failed"):
        for _ in range(n):
            entry = canonical_json({"i": len(self.leaves), "kind": kind})
            self.leaves.append(merkle.leaf_hash(entry))
        return self

    def root(self, size=None):
        return mth(self.leaves[: len(self.leaves) if size is None else size])

    def note(self, size=None, root=None):
        size = len(self.leaves) if size is None else size
        text = checkpoint_text(origin=self.origin, size=size, root=root or self.root(size))
        sig = key_id(self.origin, self.key.public_key_hex) + self.key.sign(text.encode())
        return f"{text}\n{EM_DASH} {self.origin} {base64.b64encode(sig).decode()}\n"

    def proof(self, old, size=None):
        size = len(self.leaves) if size is None else size
        return [mth(self.leaves[a:b]) for a, b in merkle.consistency_ranges(old, size)]

    def body(self, old, size=None, proof=None, note=None):
        proof = self.proof(old, size) if proof is None else proof
        lines = [f"old {old}"] + [base64.b64encode(h).decode() for h in proof]
        return ("\n".join(lines) + "\n\n" + (note or self.note(size))).encode()


def mth(leaves):
    if not leaves:
        return merkle.empty_root()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return merkle.node_hash(mth(leaves[:k]), mth(leaves[k:]))


def add(body: bytes) -> str:
    return witness.witness_add_checkpoint(body=body).decode()


def stored() -> tuple[int, bytes] | None:
    row = WitnessedLog.objects.filter(origin=ORIGIN).first()
    return (row.size, bytes(row.root_hash)) if row else None


# --- the cosignature format --------------------------------------------------------------


def test_cosignature_line_is_tlog_cosignature_v1_signed_with_sm2(node_key, settings):
    text = checkpoint_text(origin=ORIGIN, size=7, root=b"\x01" * 32)
    line = witness.cosignature_line(text=text, timestamp=1_700_000_000)
    assert line.endswith("\n") and line.count("\n") == 1
    dash, name, b64sig = line[:-1].split(" ")
    assert dash == EM_DASH and name == f"tongban/{settings.TONGBAN_NODE}/witness"
    raw = base64.b64decode(b64sig)
    key_hex = node_key.public_key
    # key ID: SM3(name || "\n" || 0xFF || "tongban-sm2-cosignature/v1" || public key)[:4]
    from tongban.gm.sm3 import sm3_digest

    expected_id = sm3_digest(
        name.encode() + b"\n\xfftongban-sm2-cosignature/v1" + bytes.fromhex(key_hex)
    )[:4]
    assert raw[:4] == expected_id != key_id(name, key_hex)  # not the checkpoint key ID
    assert int.from_bytes(raw[4:12], "big") == 1_700_000_000
    signed = b"cosignature/v1\ntime 1700000000\n" + text.encode()
    assert sm2.verify(key_hex, signed, raw[12:])
    assert not sm2.verify(key_hex, text.encode(), raw[12:])

    note = f"{text}\n{EM_DASH} {ORIGIN} AAAA\n{line}"
    assert witness.checkpoint_witnesses(note) == [settings.TONGBAN_NODE]
    assert witness.checkpoint_witnesses(note.replace("\n7\n", "\n8\n")) == []
    assert witness.checkpoint_witnesses("not a note") == []
    future = witness.cosignature_line(text=text, timestamp=int(time.time()) + 86400)
    assert witness.checkpoint_witnesses(f"{text}\n{future}") == []


def test_checkpoint_witnesses_knows_peer_witnesses_by_their_directory_keys(node_key, js_key):
    text = checkpoint_text(origin="tongban/sh/audit", size=3, root=b"\x02" * 32)
    name = "tongban/js/witness"
    ts = int(time.time())
    raw = (
        witness.cosignature_key_id(name, js_key.public_key_hex)
        + ts.to_bytes(8, "big")
        + js_key.sign(witness.cosigned_message(text, ts))
    )
    js_line = f"{EM_DASH} {name} {base64.b64encode(raw).decode()}\n"
    own = witness.cosignature_line(text=text)
    assert witness.checkpoint_witnesses(text + "\n" + js_line + own) == ["js", "sh"]
    # a line under js's name signed by another key, or a witness not in the directory
    forged = own.replace("tongban/sh/witness", name)
    assert witness.checkpoint_witnesses(text + "\n" + forged) == []
    assert witness.checkpoint_witnesses(text + "\n" + own.replace("/sh/", "/xx/")) == []
    NodeKey.objects.filter(kid="js-test").update(revoked=True)
    assert witness.checkpoint_witnesses(text + "\n" + js_line) == []


# --- the witness's checks ----------------------------------------------------------------


def test_first_checkpoint_on_trust_then_only_consistent_ones(node_key, js_key):
    log = PeerLog(js_key, n=5)
    line = add(log.body(0))
    cp_text = checkpoint_text(origin=ORIGIN, size=5, root=log.root())
    assert witness.checkpoint_witnesses(cp_text + "\n" + line) == ["sh"]
    assert stored() == (5, log.root())
    log.add(7)
    add(log.body(5))
    assert stored() == (12, log.root())
    add(log.body(12))  # the same checkpoint again: cosigned again, nothing moves
    assert stored() == (12, log.root())
    for n in (1, 4, 20):  # sizes across power-of-two boundaries
        old = len(log.leaves)
        log.add(n)
        add(log.body(old))
    assert stored() == (37, log.root())
    assert not SecurityEvent.objects.filter(kind="audit_log_inconsistent").exists()


def test_a_stale_old_size_is_409_with_the_witness_size(client, node_key, js_key):
    log = PeerLog(js_key, n=5)
    add(log.body(0))
    log.add(3)
    r = client.post(URL, log.body(2), content_type="text/plain")
    assert r.status_code == 409
    assert r["Content-Type"] == "text/x.tlog.size" and r.content == b"5\n"
    assert stored() == (5, log.root(5))
    r = client.post(URL, log.body(0), content_type="text/plain")  # "old 0" asks for it
    assert r.status_code == 409 and r.content == b"5\n"
    r = client.post(URL, log.body(5), content_type="text/plain")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/plain")
    assert r.content.decode().startswith(f"{EM_DASH} tongban/sh/witness ")
    assert stored() == (8, log.root())
    assert not SecurityEvent.objects.filter(kind="audit_log_inconsistent").exists()


def _refusal(kind="audit_log_inconsistent"):
    events = list(SecurityEvent.objects.filter(kind=kind))
    assert len(events) == 1
    return events[0].details


def test_a_rewritten_log_is_refused_loudly_with_the_note_as_evidence(
    client, node_key, js_key, caplog
):
    log = PeerLog(js_key, n=8)
    add(log.body(0))
    before = stored()
    # the operator rewrites leaf 3 and recomputes everything above it, then grows the log
    log.leaves[3] = merkle.leaf_hash(b"rewritten")
    log.add(5)
    note = log.note()
    body = log.body(8, note=note)
    with caplog.at_level(logging.ERROR, logger="tongban.audit.witness"):
        r = client.post(URL, body, content_type="text/plain")
    assert r.status_code == 422 and r.json()["error"]["code"] == "audit_log_inconsistent"
    assert stored() == before  # nothing cosigned, nothing moved
    details = _refusal()
    assert details["origin"] == ORIGIN and details["log_node"] == "js"
    assert details["witnessed_size"] == "8" and details["checkpoint_size"] == "13"
    assert base64.b64decode(details["refused_note_b64"]).decode() == note
    assert "consistency proof does not verify" in details["reason"]
    assert any(
        r.levelno == logging.ERROR
        and "WITNESS REFUSED" in r.getMessage()
        and ORIGIN in r.getMessage()
        for r in caplog.records
    )


def test_a_smaller_tree_is_refused_loudly(client, node_key, js_key):
    log = PeerLog(js_key, n=10)
    add(log.body(0))
    # history dropped: the log went back to 6 leaves and signed that
    r = client.post(URL, log.body(10, size=6, proof=[]), content_type="text/plain")
    assert r.status_code == 400 and r.json()["error"]["code"] == "audit_log_inconsistent"
    assert _refusal()["checkpoint_size"] == "6"
    r = client.post(URL, log.body(6, size=6, proof=[]), content_type="text/plain")
    assert r.status_code == 409 and r.content == b"10\n"
    assert SecurityEvent.objects.filter(kind="audit_log_inconsistent").count() == 2
    assert stored() == (10, log.root(10))


def test_the_same_size_with_another_root_is_refused_loudly(client, node_key, js_key):
    log = PeerLog(js_key, n=6)
    add(log.body(0))
    fork = log.note(root=merkle.leaf_hash(b"fork"))
    r = client.post(URL, log.body(6, proof=[], note=fork), content_type="text/plain")
    assert r.status_code == 409 and r.content == b"6\n"
    assert r["Tongban-Error"] == "audit_log_inconsistent"
    assert _refusal()["reason"] == "same size, another root hash"
    assert stored() == (6, log.root())


def test_dropped_and_regrown_history_is_refused(node_key, js_key):
    log = PeerLog(js_key, n=9)
    add(log.body(0))
    log.leaves = log.leaves[:7]  # the last two leaves deleted, the head lowered …
    log.add(4, kind="login")  # … and new entries appended: 11 leaves, another history
    with pytest.raises(DomainError) as exc:
        add(log.body(9))
    assert exc.value.status == 422
    assert _refusal()["witnessed_size"] == "9"


def test_unknown_log_unsigned_or_malformed_requests_change_nothing(client, node_key, js_key):
    log = PeerLog(js_key, n=4)
    other = PeerLog(sm2.SigningKey.generate(), n=4)  # js's origin, another key
    stranger = PeerLog(js_key, origin="tongban/xx/audit", n=4)
    note = log.note()
    cases = [
        (other.body(0), 403),
        (stranger.body(0), 404),
        (PeerLog(js_key, origin="example.com/log", n=1).body(0), 404),
        (b"", 400),
        (b"\xff\xfe", 400),
        (b"old 0\n" + note.encode(), 400),  # no empty line
        (b"old -1\n\n" + note.encode(), 400),
        (b"old 01\n\n" + note.encode(), 400),
        (b"new 0\n\n" + note.encode(), 400),
        (b"old 0\nnot-base64!\n\n" + note.encode(), 400),
        (b"old 0\nAAAA\n\n" + note.encode(), 400),  # not 32 bytes
        (log.body(5, proof=[]), 400),  # old larger than the checkpoint
        (log.body(0, proof=[b"\x00" * 32]), 400),  # a proof from 0
        (b"old 0\n\n" + note.replace("\n4\n", "\n04\n").encode(), 400),
        (b"old 0\n\n" + note.encode().replace(b"\n\n", b"\n"), 400),
        (b"old 0\n\n" + note.encode() + b"\x00", 400),
        (b"old 0\n\n" + note.encode()[:-1], 400),
        (b"old 0\n" + (base64.b64encode(b"\x00" * 32) + b"\n") * 64 + b"\n" + note.encode(), 400),
        (b"old 0\n\n" + note.encode() + b"x" * 20000, 413),
    ]
    for body, status in cases:
        r = client.post(URL, body, content_type="text/plain")
        assert r.status_code == status, (body[:60], r.status_code, r.content[:200])
        assert r.status_code == 409 or r.json()["error"]["code"]
    assert not WitnessedLog.objects.exists()
    assert not SecurityEvent.objects.filter(kind="audit_log_inconsistent").exists()


def test_a_witness_cosigns_with_its_own_log_too(node_key, settings):
    """The hub's own log is witnessed by provinces; a node also accepts its own origin (the
    e2e region runs separate processes, this checks the key lookup for the local node)."""
    for i in range(3):
        audit_append(kind="security_event", entry={"i": i})
    cp = audit_checkpoint_create()
    line = add(f"old 0\n\n{cp.note}".encode())
    assert witness.checkpoint_witnesses(cp.note + line) == [settings.TONGBAN_NODE]
    opened = checkpoint_open(cp.note + line, public_key_hex=node_key.public_key)
    assert opened.size == cp.size  # a cosignature line does not disturb the log's signature


# --- the log side and the endpoints --------------------------------------------------------


def test_add_checkpoint_body_carries_a_proof_from_the_last_cosigned_size(node_key, js_key):
    for i in range(5):
        audit_append(kind="security_event", entry={"i": i})
    first = audit_checkpoint_create()
    first.cosigned_note = first.note + "— tongban/js/witness AAAA\n"
    first.witnesses = ["js"]
    first.save()
    for i in range(5, 12):
        audit_append(kind="security_event", entry={"i": i})
    second = audit_checkpoint_create()
    assert witness._last_cosigned_size("js") == 5
    assert witness._last_cosigned_size("hub") == 0
    body = witness.add_checkpoint_body(old=5, checkpoint=second).decode()
    head, _, note = body.partition("\n\n")
    lines = head.split("\n")
    assert lines[0] == "old 5" and note == second.note
    proof = [base64.b64decode(x) for x in lines[1:]]
    assert merkle.verify_consistency(5, 12, first.root_hash, second.root_hash, proof)
    assert witness.add_checkpoint_body(old=0, checkpoint=second).decode().startswith("old 0\n\n")


def test_the_checkpoint_endpoint_serves_the_latest_cosigned_checkpoint(client, node_key):
    for i in range(4):
        audit_append(kind="security_event", entry={"i": i})
    cp = audit_checkpoint_create()
    r = client.get("/api/v1/audit/checkpoint")
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_cosigned_checkpoint"
    assert client.get("/api/v1/audit/checkpoint", {"uncosigned": 1}).content.decode() == cp.note
    line = witness.cosignature_line(text=cp.note.partition("\n\n")[0] + "\n")
    AuditCheckpoint.objects.filter(pk=cp.pk).update(cosigned_note=cp.note + line, witnesses=["sh"])
    audit_append(kind="security_event", entry={"i": 4})
    audit_checkpoint_create()  # newer, not cosigned yet
    r = client.get("/api/v1/audit/checkpoint")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/plain")
    assert r.content.decode() == cp.note + line and r["Tongban-Witnesses"] == "sh"
    assert witness.checkpoint_witnesses(r.content.decode()) == ["sh"]


def test_witnessing_fails_quietly_for_the_worker(node_key, settings, caplog):
    settings.TONGBAN_AUDIT_WITNESSES = ["js"]
    Node.objects.update_or_create(
        node_id="js", defaults={"name": "江苏", "base_url": "http://127.0.0.1:9"}
    )
    audit_append(kind="security_event", entry={"i": 0})
    cp = audit_checkpoint_create()
    from tongban.exchange.management.commands.worker import Command as Worker

    with caplog.at_level(logging.WARNING):
        Worker()._audit_witness(None)  # js is unreachable: logged, the worker goes on
    assert "did not cosign" in caplog.text
    cp.refresh_from_db()
    assert cp.witnesses == [] and cp.cosigned_note == ""


# --- tongban audit verify over a rewritten log ---------------------------------------------

# What a rewriting operator runs (also in the nodes of tests/e2e/test_region_witness.py):
# change a leaf and recompute its hash and every stored subtree hash, or drop the last
# leaves and lower the head, so that the tree looks self-consistent.
OPERATOR = """
from django.db import transaction
from tongban.audit import merkle
from tongban.audit.models import AuditHead, AuditLeaf, AuditNode


def rebuild():
    AuditNode.objects.all().delete()
    stream, nodes = merkle.StreamingRoot(), []
    for index, leaf in AuditLeaf.objects.order_by("index").values_list("index", "leaf_hash"):
        for level, h in stream.add(bytes(leaf)):
            nodes.append(AuditNode(level=level, index=index >> level, hash=h))
    AuditNode.objects.bulk_create(nodes)


def rewrite(index, entry):
    with transaction.atomic():
        leaf = merkle.leaf_hash(entry)
        AuditLeaf.objects.filter(index=index).update(entry=entry, leaf_hash=leaf)
        rebuild()


def naive(index, entry):
    AuditLeaf.objects.filter(index=index).update(entry=entry)


def drop(first):
    with transaction.atomic():
        AuditLeaf.objects.filter(index__gte=first).delete()
        AuditHead.objects.filter(pk=1).update(size=first)
        rebuild()
"""


@pytest.fixture
def operator():
    namespace: dict = {}
    exec(OPERATOR, namespace)  # noqa: S102 — the test's own code, as the e2e test runs it
    return namespace


def _verify_fails(match, *args):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=match):
        call_command("audit", "verify", *args)


def _events(n, rf):
    from tongban.identity.security_log import security_event

    for i in range(n):
        security_event("login_failed", request=rf.get("/"), username=f"user{i}")


def test_verify_names_a_rewritten_event_whose_tree_was_recomputed(node_key, operator, rf):
    from django.core.management import call_command

    _events(10, rf)
    audit_checkpoint_create()
    call_command("audit", "verify")
    row = SecurityEvent.objects.order_by("pk")[4]
    leaf = leaf_entry(4)
    assert leaf["id"] == row.pk
    operator["rewrite"](4, canonical_json({**leaf, "kind": "login_succeeded"}))
    _verify_fails(r"at index 4: leaf 4: it does not match security event")


def leaf_entry(index):
    import json

    from tongban.audit.models import AuditLeaf

    return json.loads(bytes(AuditLeaf.objects.get(index=index).entry))


def test_verify_catches_a_rewrite_only_a_signed_checkpoint_shows(node_key, operator, tmp_path):
    from django.core.management import call_command

    for i in range(8):
        audit_append(kind="data_use", entry={"i": i})
    first = audit_checkpoint_create()
    for i in range(8, 16):
        audit_append(kind="data_use", entry={"i": i})
    audit_checkpoint_create()
    operator["rewrite"](11, canonical_json({"i": 11, "rewritten": True}))
    _verify_fails(r"at index 8: leaves 8–15 do not match the checkpoint signed at size 16")
    kept = tmp_path / "checkpoint.txt"
    kept.write_text(first.note)  # a checkpoint kept elsewhere, before the rewritten leaf
    call_command("audit", "verify", "--from-checkpoint", str(kept))
    operator["rewrite"](2, canonical_json({"i": 2, "rewritten": True}))
    _verify_fails(r"at index 0: leaves 0–7", "--from-checkpoint", str(kept))
    kept.write_text(first.note.replace("\n8\n", "\n9\n"))
    _verify_fails("the checkpoint given", "--from-checkpoint", str(kept))


def test_verify_names_a_naive_rewrite_exactly(node_key, operator):
    for i in range(12):
        audit_append(kind="data_use", entry={"i": i})
    audit_checkpoint_create()
    operator["naive"](7, canonical_json({"i": 7, "rewritten": True}))
    _verify_fails(r"at index 7: leaf 7: its entry does not match its leaf hash")


def test_verify_catches_dropped_and_regrown_history(node_key, operator, rf):
    _events(6, rf)
    audit_checkpoint_create()
    _events(6, rf)
    audit_checkpoint_create()
    operator["drop"](9)
    _events(5, rf)  # new entries after the dropped ones: 14 leaves, another history
    _verify_fails(r"at index 6: leaves 6–11 do not match the checkpoint signed at size 12")


def test_verify_names_where_dropped_message_log_leaves_were(node_key, operator):
    from tongban.exchange.message_log import message_log_append

    def messages(n):
        for i in range(n):
            message_log_append(
                direction="out",
                kind="envelope",
                message_id=f"m{i}",
                peer="zj",
                type="case.submit",
                content=b"{}",
            )

    messages(10)
    audit_checkpoint_create()
    operator["drop"](7)
    messages(3)
    _verify_fails(r"at index 7: leaf 7: message log entry 11 follows entry 7")


def test_verify_judges_message_log_gaps_only_against_the_message_log(node_key):
    from django.core.management import call_command

    for position in (1, 2, 5, 6, 9):  # leaves whose message log is not on this node
        audit_append(kind="message_log", entry={"position": position, "entry_hash": "0" * 64})
    audit_checkpoint_create()
    call_command("audit", "verify")


def test_a_witness_without_a_signing_key_answers_503_and_stores_nothing(client, js_key):
    # a node whose setup has not created its key cannot cosign: a clear 503, never a 500
    log = PeerLog(js_key, n=3)
    r = client.post(URL, log.body(0), content_type="text/plain")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "node_not_ready"
    assert stored() is None
