"""Personal identifiers inside case documents (identity assertion, form answers)
are encrypted at rest and masked when shown."""

from __future__ import annotations

import copy

from tongban.identity.masking import mask_id_number, mask_phone
from tongban.identity.pii import decrypt_identifier, encrypt_identifier

SENSITIVE_FIELD_TYPES = {"id_number": mask_id_number, "phone": mask_phone}


def assertion_for_storage(assertion: dict) -> dict:
    stored = copy.deepcopy(assertion or {})
    subject = stored.get("subject")
    if isinstance(subject, dict) and subject.get("id_number"):
        subject["id_number_encrypted"] = encrypt_identifier(str(subject.pop("id_number")))
    return stored


def assertion_masked(stored: dict) -> dict:
    shown = copy.deepcopy(stored or {})
    subject = shown.get("subject")
    if isinstance(subject, dict) and subject.get("id_number_encrypted"):
        subject["id_number"] = mask_id_number(
            decrypt_identifier(subject.pop("id_number_encrypted"))
        )
    return shown


def form_for_storage(schema: list[dict], cleaned: dict) -> dict:
    types = {f["name"]: f.get("type") for f in schema}
    return {
        k: encrypt_identifier(str(v)) if types.get(k) in SENSITIVE_FIELD_TYPES and v else v
        for k, v in cleaned.items()
    }


def form_masked(schema: list[dict], stored: dict) -> dict:
    types = {f["name"]: f.get("type") for f in schema}
    shown = {}
    for key, value in (stored or {}).items():
        mask = SENSITIVE_FIELD_TYPES.get(types.get(key))
        if mask and isinstance(value, str) and value.startswith("sm4gcm:"):
            value = mask(decrypt_identifier(value))
        shown[key] = value
    return shown
