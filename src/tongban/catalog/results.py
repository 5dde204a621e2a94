"""What an item yields (办理结果): the declaration every catalog item carries under "result".

::

    "result": {
      "kind": "licence" | "certificate" | "decision" | "filing" | "none",
      "title": "户籍事项证明",                      # the document's title
      "licence": {                                  # kind "licence" only
        "type": "营业执照",                         # a registered licence type (by name)
        "holder": "applicant" | "enterprise" | "new_enterprise",
        "version": "new" | "next",                  # next: a new version of the holder's
                                                    # current licence of that type, if any
        "fields": {"<face key>": "<source>", …}
      },
      "facts": [{"label": "证明事项", "from": "<source>"}, …],   # printed in this order
      "official_inputs": [{"key", "label", "type", "required", "default": "<source>",
                           "choices": [...]}, …],   # what the deciding official enters
      "body": "兹证明{applicant:name}…",           # optional, with {<source>} placeholders
      "valid_days": 90,                             # optional: valid until decision + days
      "enterprise_update": {"name": "<source>"}     # optional: the enterprise record changes
    }

A *source* is one of ``form:<field>``, ``applicant:name|id_masked|id_number``,
``enterprise:name|uscc``, ``official:<input key>``, ``licence:<face key>`` (the holder's
current licence of the declared type at the deciding node), ``organization:name``,
``case:number|item|decided_on|decided_iso``, ``new:uscc`` (a newly allocated 统一社会信用代码),
``auto:<prefix>`` (a licence number) or ``text:<literal>``; or a template containing
``{<source>}`` placeholders. A fact whose value comes out empty is left out.

Only where a composite item allows them (catalog/composition.py): ``stage:<key>:<output>``
(an earlier stage's output, in a relay's stage results and its own result) and
``part:<key>:<output>`` (a part's output, in a bundle's own result).
"""

from __future__ import annotations

import re

RESULT_KINDS = ("licence", "certificate", "decision", "filing", "none")
HOLDERS = ("applicant", "enterprise", "new_enterprise")
INPUT_TYPES = ("text", "textarea", "decimal", "integer", "date", "select")
SOURCE_PREFIXES = (
    "form",
    "applicant",
    "enterprise",
    "official",
    "licence",
    "organization",
    "case",
    "new",
    "auto",
    "text",
)
# allowed only where the caller names the allowed references (result_declaration_clean(extra=))
COMPOSITION_PREFIXES = ("stage", "part")
PLACEHOLDER = re.compile(r"\{([a-z]+:[^{}]*)\}")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ResultDeclarationError(ValueError):
    pass


def _sources(text: str) -> list[str]:
    """The sources a value refers to: a template's placeholders, or the value itself."""
    if "{" in text or "}" in text:
        found = PLACEHOLDER.findall(text)
        if (
            not found
            or PLACEHOLDER.sub("", text).count("{")
            or PLACEHOLDER.sub("", text).count("}")
        ):
            raise ResultDeclarationError(f"malformed template {text!r}")
        return found
    return [text]


def _check_source(
    text: object,
    where: str,
    *,
    form: set[str],
    inputs: set[str],
    extra: dict[str, set[str]] | None = None,
) -> None:
    if not isinstance(text, str) or not text or len(text) > 500:
        raise ResultDeclarationError(f"{where}: a source must be a non-empty string")
    for source in _sources(text):
        prefix, _, rest = source.partition(":")
        if extra is not None and prefix in extra:
            if rest not in extra[prefix]:
                raise ResultDeclarationError(
                    f"{where}: {source!r} is not an output of an earlier {prefix}"
                )
            continue
        if prefix not in SOURCE_PREFIXES or not rest:
            raise ResultDeclarationError(f"{where}: unknown source {source!r}")
        if prefix == "form" and rest not in form:
            raise ResultDeclarationError(f"{where}: the form has no field {rest!r}")
        if prefix == "official" and rest not in inputs:
            raise ResultDeclarationError(f"{where}: no official input {rest!r}")


def result_declaration_clean(item: dict, *, extra: dict[str, set[str]] | None = None) -> dict:
    """The item's result declaration, checked; ResultDeclarationError names what is wrong.

    ``extra`` allows composition sources: {"stage": {"<key>:<output>", …}} (or "part")."""
    code = item.get("basic_code", "?")
    result = item.get("result")
    if result is None:
        return {"kind": "none", "title": "", "facts": [], "official_inputs": []}
    if not isinstance(result, dict):
        raise ResultDeclarationError(f"{code}: 'result' must be an object")
    where = f"{code} result"
    known = {
        "kind",
        "title",
        "licence",
        "facts",
        "official_inputs",
        "body",
        "valid_days",
        "enterprise_update",
    }
    if unknown := set(result) - known:
        raise ResultDeclarationError(f"{where}: unknown members {sorted(unknown)}")
    kind = result.get("kind")
    if kind not in RESULT_KINDS:
        raise ResultDeclarationError(f"{where}: kind must be one of {RESULT_KINDS}")
    title = result.get("title", "")
    if not isinstance(title, str) or len(title) > 64 or (kind != "none" and not title):
        raise ResultDeclarationError(f"{where}: a title (at most 64 characters) is required")
    form = {f.get("name") for f in item.get("form", []) if isinstance(f, dict)}

    inputs_raw = result.get("official_inputs", [])
    if not isinstance(inputs_raw, list):
        raise ResultDeclarationError(f"{where}: official_inputs must be a list")
    inputs = []
    for i, spec in enumerate(inputs_raw):
        at = f"{where} official_inputs[{i}]"
        if not isinstance(spec, dict) or not KEY.match(str(spec.get("key", ""))):
            raise ResultDeclarationError(f"{at}: a key of lowercase letters, digits and _")
        if spec.get("type", "text") not in INPUT_TYPES:
            raise ResultDeclarationError(f"{at}: type must be one of {INPUT_TYPES}")
        label = spec.get("label")
        if not isinstance(label, str) or not label or len(label) > 64:
            raise ResultDeclarationError(f"{at}: a label is required")
        choices = spec.get("choices")
        if choices is not None and (
            not isinstance(choices, list) or not all(isinstance(c, str) and c for c in choices)
        ):
            raise ResultDeclarationError(f"{at}: choices must be a list of strings")
        inputs.append(
            {
                "key": spec["key"],
                "label": label,
                "type": "select" if choices else spec.get("type", "text"),
                "required": bool(spec.get("required", True)),
                "default": spec.get("default") or "",
                "choices": list(choices or []),
            }
        )
    keys = [i["key"] for i in inputs]
    if len(set(keys)) != len(keys):
        raise ResultDeclarationError(f"{where}: official input keys must be unique")
    for i, spec in enumerate(inputs):
        if spec["default"]:
            if spec["default"].startswith("official:"):
                raise ResultDeclarationError(f"{where}: a default cannot be another input")
            _check_source(
                spec["default"],
                f"{where} official_inputs[{i}].default",
                form=form,
                inputs=set(),
                extra=extra,
            )

    def check(text, at):
        _check_source(text, at, form=form, inputs=set(keys), extra=extra)

    facts = []
    raw_facts = result.get("facts", [])
    if not isinstance(raw_facts, list):
        raise ResultDeclarationError(f"{where}: facts must be a list")
    for i, fact in enumerate(raw_facts):
        at = f"{where} facts[{i}]"
        if not isinstance(fact, dict) or not isinstance(fact.get("label"), str):
            raise ResultDeclarationError(f"{at}: a label and a source are required")
        check(fact.get("from"), at)
        facts.append({"label": fact["label"], "from": fact["from"]})
    cleaned = {
        "kind": kind,
        "title": title,
        "facts": facts,
        "official_inputs": inputs,
        "body": "",
        "valid_days": None,
    }
    if result.get("body"):
        check(result["body"], f"{where} body")
        cleaned["body"] = result["body"]
    if result.get("valid_days") is not None:
        days = result["valid_days"]
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
            raise ResultDeclarationError(f"{where}: valid_days must be 1–3650")
        cleaned["valid_days"] = days
    licence = result.get("licence")
    if kind == "licence":
        if not isinstance(licence, dict) or not isinstance(licence.get("type"), str):
            raise ResultDeclarationError(f"{where}: a licence result names its licence type")
        if licence.get("holder") not in HOLDERS:
            raise ResultDeclarationError(f"{where}: licence holder must be one of {HOLDERS}")
        if licence.get("version", "new") not in ("new", "next"):
            raise ResultDeclarationError(f"{where}: licence version must be 'new' or 'next'")
        fields = licence.get("fields")
        if not isinstance(fields, dict) or not fields:
            raise ResultDeclarationError(f"{where}: the licence's face fields are required")
        for key, source in fields.items():
            check(source, f"{where} licence.fields.{key}")
        cleaned["licence"] = {
            "type": licence["type"],
            "holder": licence["holder"],
            "version": licence.get("version", "new"),
            "fields": dict(fields),
        }
    elif licence is not None:
        raise ResultDeclarationError(f"{where}: only a licence result has 'licence'")
    update = result.get("enterprise_update")
    if update is not None:
        if not isinstance(update, dict) or set(update) - {"name"}:
            raise ResultDeclarationError(f"{where}: enterprise_update may change 'name'")
        for key, source in update.items():
            check(source, f"{where} enterprise_update.{key}")
        cleaned["enterprise_update"] = dict(update)
    return cleaned
