"""The audit log in the database: appends, proofs from stored subtree hashes, signed
checkpoints, the public endpoints and `tongban audit verify` catching rewritten rows."""

import base64

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tongban.audit import merkle, selectors
from tongban.audit.checkpoint import CheckpointError, checkpoint_open, key_id, log_origin
from tongban.audit.models import AuditLeaf, AuditNode
from tongban.audit.services import audit_append, audit_checkpoint_create
from tongban.directory.signing import signing_key_create
from tongban.gm.canonical import canonical_json
from tongban.gm.sm3 import sm3_digest

pytestmark = pytest.mark.django_db


@pytest.fixture
def node_key(settings, tmp_path):
    settings.TONGBAN_KEY_DIR = tmp_path / "keys"
    return signing_key_create(node_id=settings.TONGBAN_NODE)


def entries(n, start=0):
    return [
        {"seq": i, "event": "login_failed", "sm3": sm3_digest(b"%d" % i).hex()}
        for i in range(start, start + n)
    ]


def append_all(items, kind="security_event"):
    return [audit_append(kind=kind, entry=e) for e in items]


def naive_root(leaf_hashes):
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < len(leaf_hashes):
        k *= 2
    return merkle.node_hash(naive_root(leaf_hashes[:k]), naive_root(leaf_hashes[k:]))


def test_append_stores_leaf_and_complete_subtrees_and_proofs_verify():
    items = entries(21)
    assert append_all(items) == list(range(21))
    leaves = [sm3_digest(b"\x00" + canonical_json(e)) for e in items]
    assert [bytes(h) for h in AuditLeaf.objects.values_list("leaf_hash", flat=True)] == leaves
    # 21 leaves close 10 + 5 + 2 + 1 complete subtrees of two or more leaves
    assert AuditNode.objects.count() == 18
    for size in range(1, 22):
        root = selectors.tree_root(size)
        assert root == naive_root(leaves[:size])
        for index in range(size):
            proof = selectors.inclusion_proof(index, size)
            assert merkle.verify_inclusion(index, size, leaves[index], proof, root)
        for first in range(size + 1):
            proof = selectors.consistency_proof(first, size)
            assert merkle.verify_consistency(first, size, selectors.tree_root(first), root, proof)


def test_root_of_a_large_log_reads_log_n_rows(django_assert_max_num_queries):
    append_all(entries(100))
    with django_assert_max_num_queries(2):
        root = selectors.tree_root(100)
    assert root == naive_root(
        [bytes(h) for h in AuditLeaf.objects.values_list("leaf_hash", flat=True)]
    )
    assert len(merkle.range_nodes(0, 1_000_000)) == bin(1_000_000).count("1") == 7


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        audit_append(kind="gossip", entry={})


def test_checkpoint_is_a_c2sp_note_signed_with_the_node_key(node_key):
    append_all(entries(5))
    cp = audit_checkpoint_create()
    origin = log_origin()
    root_b64 = base64.b64encode(selectors.tree_root(5)).decode()
    text = f"{origin}\n5\n{root_b64}\n"
    assert cp.note.startswith(text + "\n\u2014 " + origin + " ")
    sig = base64.b64decode(cp.note.rstrip("\n").rsplit(" ", 1)[1])
    expected_id = sm3_digest(
        origin.encode() + b"\n\xfftongban-sm2-sm3" + bytes.fromhex(node_key.public_key)
    )[:4]
    assert sig[:4] == expected_id == key_id(origin, node_key.public_key)
    opened = checkpoint_open(cp.note, public_key_hex=node_key.public_key)
    assert (opened.origin, opened.size, opened.root) == (origin, 5, selectors.tree_root(5))
    other = signing_key_create(node_id="zj")
    with pytest.raises(CheckpointError):
        checkpoint_open(cp.note, public_key_hex=other.public_key)
    forged = cp.note.replace(f"\n5\n{root_b64}", f"\n6\n{root_b64}")
    with pytest.raises(CheckpointError):
        checkpoint_open(forged, public_key_hex=node_key.public_key)


def test_endpoints_serve_the_checkpoint_and_verifiable_proofs(client, node_key):
    assert client.get("/api/v1/audit/checkpoint").status_code == 404
    items = entries(13)
    append_all(items)
    audit_checkpoint_create()
    assert client.get("/api/v1/audit/checkpoint").status_code == 404  # not cosigned yet
    r = client.get("/api/v1/audit/checkpoint", {"uncosigned": 1})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/plain")
    cp = checkpoint_open(r.content.decode(), public_key_hex=node_key.public_key)
    assert cp.size == 13

    body = client.get("/api/v1/audit/proof/inclusion", {"index": 7, "size": 13}).json()
    proof = [base64.b64decode(p) for p in body["proof"]]
    leaf = merkle.leaf_hash(canonical_json(items[7]))
    assert base64.b64decode(body["leaf_hash"]) == leaf
    assert merkle.verify_inclusion(7, 13, leaf, proof, cp.root)
    assert "login_failed" not in r.content.decode() + str(body)

    first_root = selectors.tree_root(4)
    body = client.get("/api/v1/audit/proof/consistency", {"first": 4, "second": 13}).json()
    proof = [base64.b64decode(p) for p in body["proof"]]
    assert merkle.verify_consistency(4, 13, first_root, cp.root, proof)

    for path, params in [
        ("inclusion", {"index": 13, "size": 13}),
        ("inclusion", {"index": 0, "size": 14}),
        ("inclusion", {"index": -1, "size": 3}),
        ("consistency", {"first": 5, "second": 4}),
        ("consistency", {"first": 1, "second": 10**30}),
        ("inclusion", {"index": "x", "size": 3}),
    ]:
        r = client.get(f"/api/v1/audit/proof/{path}", params)
        assert 400 <= r.status_code < 500, (path, params, r.status_code)


def verify():
    call_command("audit", "verify")


def test_verify_passes_then_names_a_rewritten_entry(node_key):
    append_all(entries(40))
    call_command("audit", "checkpoint")
    verify()
    with connection.cursor() as c:
        c.execute(
            'UPDATE audit_auditleaf SET entry = %s WHERE "index" = 17',
            [canonical_json({"seq": 17, "event": "nothing happened"})],
        )
    with pytest.raises(CommandError, match="at index 17"):
        verify()


def test_verify_names_a_rewritten_entry_with_its_leaf_hash(node_key):
    append_all(entries(40))
    call_command("audit", "checkpoint")
    forged = canonical_json({"seq": 22})
    with connection.cursor() as c:
        c.execute(
            'UPDATE audit_auditleaf SET entry = %s, leaf_hash = %s WHERE "index" = 22',
            [forged, merkle.leaf_hash(forged)],
        )
    with pytest.raises(CommandError, match="at index 22"):
        verify()


@pytest.mark.parametrize("index", [0, 9, 39])
def test_verify_names_a_deleted_row(node_key, index):
    append_all(entries(40))
    call_command("audit", "checkpoint")
    with connection.cursor() as c:
        c.execute('DELETE FROM audit_auditleaf WHERE "index" = %s', [index])
    with pytest.raises(CommandError, match=f"at index {index}"):
        verify()


def test_verify_refuses_a_checkpoint_with_a_bad_signature(node_key):
    append_all(entries(3))
    cp = audit_checkpoint_create()
    cp.note = cp.note.replace("\n3\n", "\n2\n")
    cp.save()
    with pytest.raises(CommandError, match="INCONSISTENT"):
        verify()


def test_worker_signs_a_checkpoint_when_due(node_key, settings):
    from tongban.audit.models import AuditCheckpoint
    from tongban.audit.services import audit_checkpoint_if_due
    from tongban.exchange.management.commands.worker import Command as Worker

    append_all(entries(2))
    Worker()._audit_checkpoint()  # the step of the worker's loop (its first pass runs it)
    assert AuditCheckpoint.objects.get().size == 2
    assert audit_checkpoint_if_due(max_age_seconds=3600) is None  # unchanged and fresh
    append_all(entries(1, start=2))
    assert audit_checkpoint_if_due(max_age_seconds=3600).size == 3
    assert audit_checkpoint_if_due(max_age_seconds=0).size == 3  # stale: signed again


def test_proofs_over_a_damaged_log_answer_409_not_500(client):
    append_all(entries(8))
    with connection.cursor() as c:
        c.execute('DELETE FROM audit_auditleaf WHERE "index" = 5')
    r = client.get("/api/v1/audit/proof/inclusion", {"index": 5, "size": 8})
    assert r.status_code == 409 and r.json()["error"]["code"] == "audit_log_inconsistent"
    r = client.get("/api/v1/audit/proof/inclusion", {"index": 4, "size": 6})  # sibling gone
    assert r.status_code == 409
    r = client.get("/api/v1/audit/proof/consistency", {"first": 5, "second": 6})
    assert r.status_code == 409
    assert client.get("/api/v1/audit/proof/inclusion", {"index": 1, "size": 4}).status_code == 200
