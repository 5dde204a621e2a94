"""hub-init loads the shipped sharing catalog; the hub's configuration carries it."""

from __future__ import annotations

import io
import json

from django.core.management import call_command

from tongban.directory.services import configuration_publish


def test_hub_init_loads_the_sharing_catalog_and_publishes_it(db, settings, tmp_path):
    settings.TONGBAN_ROLE = "hub"
    settings.TONGBAN_NODE = "hub"
    settings.TONGBAN_MEDIA_DIR = tmp_path / "media"
    out = io.StringIO()
    nodes = [
        f"--node={n}=http://127.0.0.1:{8001 + i}" for i, n in enumerate(["sh", "js", "zj", "ah"])
    ]
    call_command("hub_init", *nodes, stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["datasets"] >= 10 and summary["sharing_authorizations"] >= 3
    document = json.loads(configuration_publish().document)["configuration"]
    codes = {d["code"] for d in document["sharing"]["datasets"]}
    assert {"js.marriage", "sh.real_estate", "zj.household"} <= codes
