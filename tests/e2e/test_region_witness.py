"""Witnesses across real processes (docs/exchange-protocol.md §16.5): hub, sh and zj each
on its own database. sh's checkpoints are cosigned by the hub and zj, zj's by the hub and
sh; then an operator rewrites a row of sh's audit log (recomputing the tree above it) and
drops and regrows zj's history: `tongban audit verify` fails naming the index, and the
witnesses refuse the next checkpoints loudly.

This module runs its own region (the logs it damages are not shared with other tests)."""

from __future__ import annotations

import json
import os

import pytest
import requests

from tests.audit.test_witness import OPERATOR

pytestmark = pytest.mark.e2e

ENV = {
    # every node asks the other two (the default ring would ask js and ah, not running here)
    "TONGBAN_AUDIT_WITNESSES": "hub,sh,zj",
    # the workers' own checkpoints and pushes: only at their start, the test drives the rest
    "TONGBAN_AUDIT_CHECKPOINT_SECONDS": "3600",
}


@pytest.fixture(scope="module")
def live_region(tmp_path_factory):
    from tests.live_regions import running_region

    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    try:
        yield from running_region(tmp_path_factory.mktemp("witness-region"), ("sh", "zj"))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


EVENTS = """
from tongban.identity.security_log import security_event
for i in range({n}):
    security_event("login_failed", username="witness-e2e-{tag}-%d" % i)
from tongban.audit.selectors import tree_size
print(tree_size())
"""

LEAVES = """
import json
from tongban.audit.models import AuditLeaf
rows = AuditLeaf.objects.filter(kind="security_event").order_by("-index")
print(json.dumps([[i, bytes(e).decode()] for i, e in rows.values_list("index", "entry")[:5]]))
"""

REFUSALS = """
import json
from tongban.identity.models import SecurityEvent
rows = SecurityEvent.objects.filter(kind="audit_log_inconsistent").order_by("pk")
print(json.dumps([r.details for r in rows]))
"""


def events(region, node: str, n: int, tag: str) -> int:
    """n new security events at ``node``; returns its tree size."""
    return int(region.manage(node, "shell", "-c", EVENTS.format(n=n, tag=tag)).split()[-1])


def operator(region, node: str, call: str) -> None:
    region.manage(node, "shell", "-c", OPERATOR + "\n" + call)


def witness(region, node: str) -> tuple[int, str]:
    """A new checkpoint at ``node``, pushed to its witnesses: (its size, who cosigned)."""
    region.manage(node, "audit", "checkpoint")
    out = region.manage(node, "audit", "witness").strip()
    head, _, who = out.partition(" cosigned by: ")
    return int(head.removeprefix("checkpoint at size ")), who


def verify_fails(region, node: str) -> str:
    with pytest.raises(RuntimeError) as exc:
        region.manage(node, "audit", "verify")
    assert "INCONSISTENT" in str(exc.value)
    return str(exc.value)


def refusals(region, node: str, origin: str) -> list[dict]:
    out = region.manage(node, "shell", "-c", REFUSALS)
    return [d for d in json.loads(out.strip().splitlines()[-1]) if d["origin"] == origin]


def cosigned(region, node: str) -> requests.Response:
    r = requests.get(f"{region.url(node)}/api/v1/audit/checkpoint", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain"), r.text
    return r


def test_witnesses_cosign_then_refuse_a_rewritten_log(live_region):
    region = live_region
    # --- sh's log, cosigned twice by the hub and zj ---------------------------------------
    events(region, "sh", 5, "a")
    assert witness(region, "sh")[1] == "hub, zj"
    first = cosigned(region, "sh")
    assert first.headers["Tongban-Witnesses"] == "hub,zj"
    assert "\n— tongban/hub/witness " in first.text and "\n— tongban/zj/witness " in first.text
    events(region, "sh", 6, "b")
    size, who = witness(region, "sh")
    assert who == "hub, zj"  # consistent with the first
    second = cosigned(region, "sh")
    assert second.text.split("\n")[1] == str(size)
    region.manage("sh", "audit", "verify")
    # …and the hub's own log, cosigned by sh and zj
    assert witness(region, "hub")[1] == "sh, zj"

    # --- an operator rewrites one row of sh's log and recomputes the tree above it --------
    index, entry = json.loads(region.manage("sh", "shell", "-c", LEAVES).splitlines()[-1])[2]
    hidden = json.loads(entry) | {"kind": "login_succeeded"}
    forged = json.dumps(hidden, separators=(",", ":"), sort_keys=True).encode()
    operator(region, "sh", f"rewrite({index}, {forged!r})")
    assert f"at index {index}" in verify_fails(region, "sh")
    events(region, "sh", 3, "c")
    with pytest.raises(RuntimeError, match="witnesses did not cosign: hub, zj"):
        witness(region, "sh")
    for node in ("hub", "zj"):
        (refusal,) = refusals(region, node, "tongban/sh/audit")
        assert refusal["reason"] == "the consistency proof does not verify"
        assert refusal["witnessed_size"] == str(size)
        assert refusal["refused_note_b64"]
    log = (region.root / "logs" / "hub-web.log").read_text(errors="replace")
    assert "WITNESS REFUSED checkpoint of tongban/sh/audit" in log
    # the endpoint still serves the last checkpoint the witnesses cosigned
    assert cosigned(region, "sh").text == second.text

    # --- zj drops its last leaves, lowers its head and appends new entries ----------------
    events(region, "zj", 4, "a")
    kept_before, who = witness(region, "zj")
    assert who == "hub, sh"
    events(region, "zj", 4, "b")
    kept, who = witness(region, "zj")
    assert who == "hub, sh"
    operator(region, "zj", f"drop({kept - 2})")
    events(region, "zj", 5, "c")  # history rewritten: a longer log with other entries
    problem = verify_fails(region, "zj")
    assert f"at index {kept_before}" in problem and f"size {kept}" in problem
    with pytest.raises(RuntimeError, match="witnesses did not cosign: hub, sh"):
        witness(region, "zj")
    for node in ("hub", "sh"):
        (refusal,) = refusals(region, node, "tongban/zj/audit")
        assert refusal["witnessed_size"] == str(kept)

    # --- the naive change (the entry only) is named exactly -------------------------------
    operator(region, "zj", "naive(1, b'{}')")
    assert "at index 1: leaf 1: its entry does not match its leaf hash" in verify_fails(
        region, "zj"
    )
