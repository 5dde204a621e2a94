"""What a member case of a 联办件 is, read from its item's catalog definition.

A stage of a relay (接续办) is a case of the relay item itself, told apart by its
``member_key``: the stage's definition gives its result declaration (what its
official enters and issues) and its time limit. A part of a bundle (集成办) is a
case of the part's own item, so nothing changes for it here. The inputs — what
earlier members produced — travel with the case and are shown to its official and
usable as ``stage:<key>:<output>`` / ``part:<key>:<output>`` sources.
"""

from __future__ import annotations

import json

from tongban.identity.pii import decrypt_at_rest, encrypt_at_rest


def stage_of(case) -> dict | None:
    """The stage definition of a relay stage case, or None."""
    if not case.member_key:
        return None
    for stage in getattr(case.item, "stages", None) or []:
        if stage.get("key") == case.member_key:
            return stage
    return None


def result_declaration_for(case) -> dict:
    """The declaration its 准予 follows: the stage's for a relay stage, else the item's.

    The last stage of a relay that declares no document of its own issues the relay's
    result — the item's declaration (e.g. 养老保险关系转移接续回执, drawing on earlier
    stages through ``stage:`` sources), with the stage's outputs among its inputs."""
    stage = stage_of(case)
    if stage is None:
        return case.item.result or {}
    own = stage.get("result") or {}
    if own.get("kind", "none") != "none":
        return own
    stages = case.item.stages or []
    overall = case.item.result or {}
    if stages and stages[-1].get("key") == stage.get("key") and overall.get("kind"):
        declared = list(overall.get("official_inputs") or [])
        keys = {spec.get("key") for spec in declared}
        outputs = [spec for spec in stage.get("outputs", []) if spec.get("key") not in keys]
        return {**overall, "official_inputs": declared + outputs}
    return own or {"kind": "none", "official_inputs": stage.get("outputs", [])}


def limit_days_for(case) -> tuple[int, int]:
    """(promised, legal) working days: a stage's own limit, else the item's."""
    stage = stage_of(case)
    if stage is not None:
        days = int(stage.get("limit_days") or case.item.promised_limit_days)
        return days, days
    return case.item.promised_limit_days, case.item.legal_limit_days


# outputs that name records rather than say something: the documents themselves travel
# (and are listed) with the member; the people who read the inputs see the rest
MACHINE_OUTPUTS = {"document_id", "licence_identifier"}


def inputs_dump(inputs: dict) -> str:
    return encrypt_at_rest(json.dumps(inputs, ensure_ascii=False)) if inputs else ""


def inputs_load(token: str) -> dict:
    if not token:
        return {}
    try:
        value = json.loads(decrypt_at_rest(token))
    except (ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def member_inputs(case) -> dict:
    """{"members": [{key, role, name, organization, node, case_number, outputs,
    output_labels}], "composite": {number, kind, item}} — what came before."""
    return inputs_load(case.member_inputs_encrypted)


def input_value(inputs: dict, source: str) -> str:
    """``stage:<key>:<output>`` or ``part:<key>:<output>`` from the inputs."""
    _prefix, _, rest = source.partition(":")
    key, _, output = rest.partition(":")
    for member in inputs.get("members") or []:
        if member.get("key") == key:
            value = (member.get("outputs") or {}).get(output, "")
            return "" if value is None else str(value)
    return ""


def inputs_shown(case) -> list[dict]:
    """The inputs as the member's official sees them: one row per earlier output."""
    rows = []
    for member in member_inputs(case).get("members") or []:
        labels = member.get("output_labels") or {}
        for key, value in (member.get("outputs") or {}).items():
            if value in ("", None) or key in MACHINE_OUTPUTS:
                continue
            rows.append(
                {
                    "stage": member.get("name") or member.get("key"),
                    "role": member.get("role", ""),
                    "organization": member.get("organization_name", ""),
                    "case_number": member.get("case_number", ""),
                    "label": labels.get(key, key),
                    "value": str(value),
                }
            )
    return rows
