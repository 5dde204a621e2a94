"""Composite items: 接续办 relays ("stages") and 集成办 bundles ("parts", 一件事).

An item of a catalog release may carry either

* ``stages`` — an ordered relay between organizations (转入地 → 转出地 → 转入地 …), each
  stage with its deciding organization, time limit, what its official sees (``inputs``),
  what its official enters (``outputs``) and the document it issues (``result``); or
* ``parts`` — a bundle of other items of the same release applied for at once, each
  with its organization, the parts whose outputs it needs (``depends_on``) and how its
  own application form is filled in (``fields``).

Organization rules (``organization``), exactly one of ``{"from": "applied"}`` (relay
stages only), ``{"region_field": "<form field>"}`` (a 6-digit region code answered on
the form: the implementing organization of that region, else of its city, else of its
province) and ``{"same_as": "<earlier key>"}``.

Checked when a release is imported (services.catalog_release_import): a malformed
definition refuses the whole release with a CompositionError naming the item.
The format is documented in docs/exchange-protocol.md §12.1.
"""

from __future__ import annotations

import re

from tongban.catalog.results import KEY, ResultDeclarationError, result_declaration_clean

STAGE_MEMBERS = {
    "sequence",
    "key",
    "role",
    "name",
    "organization",
    "limit_days",
    "inputs",
    "outputs",
    "result",
}
PART_MEMBERS = {"key", "item", "role", "organization", "depends_on", "fields", "materials"}
# what a part yields besides its item's result.official_inputs
PART_DOCUMENT_OUTPUTS = ("document_id",)
PART_LICENCE_OUTPUTS = ("licence_number", "licence_identifier")
APPLICANT_SOURCES = ("name", "id_number", "phone")
REGION = re.compile(r"^[0-9]{6}$")
MAX_STAGES = 10
MAX_PARTS = 12
MAX_LIMIT_DAYS = 365


class CompositionError(ValueError):
    pass


def choice_values(field: dict) -> list[str]:
    """A select field's stored values: its choices as plain strings or {"value", "label"}."""
    values = []
    for choice in field.get("choices") or []:
        values.append(choice.get("value") if isinstance(choice, dict) else choice)
    return values


def region_resolve(code: str, responsible: list[dict]) -> dict | None:
    """The responsible entry for a region code: that region, else its city, else its
    province (None when none implements it there)."""
    by_region = {r.get("region"): r for r in responsible if isinstance(r, dict)}
    for candidate in (code, code[:4] + "00", code[:2] + "0000"):
        if candidate in by_region:
            return by_region[candidate]
    return None


def _form(item: dict) -> dict[str, dict]:
    return {f["name"]: f for f in item.get("form") or [] if isinstance(f, dict) and "name" in f}


def _text(value: object, where: str, what: str, *, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise CompositionError(f"{where}: {what} (at most {max_length} characters) is required")
    return value


def _key(value: object, where: str, seen: set[str]) -> str:
    if not isinstance(value, str) or not KEY.match(value):
        raise CompositionError(f"{where}: a key of lowercase letters, digits and _ is required")
    if value in seen:
        raise CompositionError(f"{where}: key {value!r} is used twice")
    return value


def _organization(
    rule: object,
    where: str,
    *,
    form: dict[str, dict],
    earlier: list[str],
    responsible: list[dict],
    relay: bool,
) -> dict:
    """One organization rule, checked; a region field's choices must each resolve to an
    implementing organization of ``responsible``."""
    if not isinstance(rule, dict) or len(rule) != 1:
        raise CompositionError(
            f"{where}: organization must be exactly one of "
            '{"from": "applied"}, {"region_field": …}, {"same_as": …}'
        )
    ((kind, value),) = rule.items()
    if kind == "from":
        if value != "applied":
            raise CompositionError(f"{where}: organization from {value!r} — only 'applied'")
        if not relay:
            raise CompositionError(f"{where}: organization from 'applied' is for relay stages")
    elif kind == "region_field":
        field = form.get(value) if isinstance(value, str) else None
        if field is None:
            raise CompositionError(
                f"{where}: organization region_field {value!r} is not a form field"
            )
        if not field.get("required"):
            raise CompositionError(f"{where}: region field {value!r} must be required")
        if field.get("type") == "select":
            for code in choice_values(field):
                if not isinstance(code, str) or not REGION.match(code):
                    raise CompositionError(
                        f"{where}: region field {value!r} choice {code!r} is not a region code"
                    )
                if region_resolve(code, responsible) is None:
                    raise CompositionError(
                        f"{where}: no responsible organization for region {code} "
                        f"(choice of {value!r})"
                    )
    elif kind == "same_as":
        if value not in earlier:
            raise CompositionError(
                f"{where}: organization same_as {value!r} is not an earlier stage or part"
            )
    else:
        raise CompositionError(f"{where}: unknown organization rule {kind!r}")
    return {kind: value}


def _declaration(result: dict, code: str, form: list, extra: dict) -> dict:
    try:
        return result_declaration_clean(
            {"basic_code": code, "form": form, "result": result}, extra=extra
        )
    except ResultDeclarationError as exc:
        raise CompositionError(str(exc)) from exc


def stages_clean(item: dict, items_by_code: dict[str, dict]) -> list[dict]:
    """The item's relay stages, checked and normalized ([] when it has none)."""
    code = item.get("basic_code", "?")
    raw = item.get("stages")
    if raw is None or raw == []:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_STAGES:
        raise CompositionError(f"{code}: 'stages' must be a list of at most {MAX_STAGES} stages")
    if item.get("parts"):
        raise CompositionError(f"{code}: an item has stages or parts, not both")
    form = _form(item)
    responsible = item.get("responsible") or []
    stages: list[dict] = []
    outputs_so_far: set[str] = set()  # "<stage key>:<output key>"
    for i, stage in enumerate(raw):
        where = f"{code} stages[{i}]"
        if not isinstance(stage, dict):
            raise CompositionError(f"{where}: a stage is an object")
        if unknown := set(stage) - STAGE_MEMBERS:
            raise CompositionError(f"{where}: unknown members {sorted(unknown)}")
        if stage.get("sequence") != i + 1 or isinstance(stage.get("sequence"), bool):
            raise CompositionError(f"{where}: sequence must be {i + 1} (stages in order 1..n)")
        key = _key(stage.get("key"), where, {s["key"] for s in stages})
        where = f"{code} stage {key!r}"
        role = _text(stage.get("role"), where, "a role", max_length=32)
        name = _text(stage.get("name"), where, "a name", max_length=64)
        organization = _organization(
            stage.get("organization"),
            where,
            form=form,
            earlier=[s["key"] for s in stages],
            responsible=responsible,
            relay=True,
        )
        days = stage.get("limit_days")
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_LIMIT_DAYS:
            raise CompositionError(f"{where}: limit_days must be 1–{MAX_LIMIT_DAYS} working days")
        inputs = stage.get("inputs", [])
        if not isinstance(inputs, list):
            raise CompositionError(f"{where}: inputs must be a list")
        for source in inputs:
            prefix, _, rest = source.partition(":") if isinstance(source, str) else ("", "", "")
            if prefix == "form" and rest in form:
                continue
            if prefix == "stage" and rest in outputs_so_far:
                continue
            if prefix == "stage":
                raise CompositionError(
                    f"{where}: input {source!r} is not an output of an earlier stage"
                )
            raise CompositionError(
                f"{where}: input {source!r} — 'form:<field>' or 'stage:<earlier key>:<output>'"
            )
        outputs_raw = stage.get("outputs", [])
        if not isinstance(outputs_raw, list):
            raise CompositionError(f"{where}: outputs must be a list")
        extra = {"stage": set(outputs_so_far)}
        outputs = _declaration(
            {"kind": "none", "official_inputs": outputs_raw},
            f"{code} stage {key!r} outputs:",
            item.get("form") or [],
            extra,
        )["official_inputs"]
        result_raw = stage.get("result")
        if result_raw is None:
            result_raw = {"kind": "none", "title": ""}
        if not isinstance(result_raw, dict):
            raise CompositionError(f"{where}: 'result' must be an object")
        if "official_inputs" not in result_raw:
            result_raw = {**result_raw, "official_inputs": outputs_raw}
        result = _declaration(result_raw, f"{code} stage {key!r}", item.get("form") or [], extra)
        if result["official_inputs"] != outputs:
            raise CompositionError(f"{where}: result.official_inputs must equal the outputs")
        stages.append(
            {
                "sequence": i + 1,
                "key": key,
                "role": role,
                "name": name,
                "organization": organization,
                "limit_days": days,
                "inputs": list(inputs),
                "outputs": outputs,
                "result": result,
            }
        )
        outputs_so_far |= {f"{key}:{o['key']}" for o in outputs}
    # the item's own limits are the whole relay's: at least its stages' one after another
    total = sum(s["limit_days"] for s in stages)
    for field in ("promised_limit_days", "legal_limit_days"):
        days = item.get(field)
        if isinstance(days, int) and not isinstance(days, bool) and days < total:
            raise CompositionError(
                f"{code}: {field} {days} is below the {total} working days its stages "
                "take one after another (the item's limit is the whole relay's)"
            )
    return stages


def part_outputs(part_item: dict) -> set[str]:
    """What a part yields: its item's official input keys, its document, and its licence's
    number and identifier when it issues a licence."""
    result = part_item.get("result") or {}
    keys = {
        spec.get("key")
        for spec in result.get("official_inputs") or []
        if isinstance(spec, dict) and spec.get("key")
    }
    keys |= set(PART_DOCUMENT_OUTPUTS)
    if result.get("kind") == "licence":
        keys |= set(PART_LICENCE_OUTPUTS)
    return keys


def _cycle(depends: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle among the parts, as a path, or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(key: str, path: list[str]) -> list[str] | None:
        if state.get(key) == 1:
            return path[path.index(key) :] + [key]
        if state.get(key) == 2:
            return None
        state[key] = 1
        for dep in depends.get(key, []):
            if found := visit(dep, [*path, key]):
                return found
        state[key] = 2
        return None

    for key in depends:
        if found := visit(key, []):
            return found
    return None


def parts_clean(item: dict, items_by_code: dict[str, dict]) -> list[dict]:
    """The item's bundle parts, checked and normalized ([] when it has none)."""
    code = item.get("basic_code", "?")
    raw = item.get("parts")
    if raw is None or raw == []:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_PARTS:
        raise CompositionError(f"{code}: 'parts' must be a list of at most {MAX_PARTS} parts")
    if item.get("stages"):
        raise CompositionError(f"{code}: an item has stages or parts, not both")
    form = _form(item)
    materials = {m.get("code") for m in item.get("materials") or [] if isinstance(m, dict)}
    keys: list[str] = []
    for i, part in enumerate(raw):
        if not isinstance(part, dict):
            raise CompositionError(f"{code} parts[{i}]: a part is an object")
        keys.append(_key(part.get("key"), f"{code} parts[{i}]", set(keys)))
    part_items: dict[str, dict] = {}
    for key, part in zip(keys, raw, strict=True):
        where = f"{code} part {key!r}"
        target = part.get("item")
        if target == code:
            raise CompositionError(f"{where}: a bundle cannot contain itself")
        if not isinstance(target, str) or target not in items_by_code:
            raise CompositionError(f"{where}: item {target!r} is not in this release")
        if items_by_code[target].get("stages") or items_by_code[target].get("parts"):
            raise CompositionError(f"{where}: item {target} has stages or parts itself")
        part_items[key] = items_by_code[target]
    depends: dict[str, list[str]] = {}
    for key, part in zip(keys, raw, strict=True):
        where = f"{code} part {key!r}"
        deps = part.get("depends_on", [])
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            raise CompositionError(f"{where}: depends_on must be a list of part keys")
        for dep in deps:
            if dep not in keys:
                raise CompositionError(f"{where}: depends_on {dep!r} is not a part of {code}")
        if len(set(deps)) != len(deps):
            raise CompositionError(f"{where}: depends_on names a part twice")
        depends[key] = list(deps)
    if cycle := _cycle(depends):
        raise CompositionError(
            f"{code}: parts depend on each other in a cycle: {' → '.join(cycle)}"
        )
    parts: list[dict] = []
    for key, part in zip(keys, raw, strict=True):
        where = f"{code} part {key!r}"
        if unknown := set(part) - PART_MEMBERS:
            raise CompositionError(f"{where}: unknown members {sorted(unknown)}")
        part_item = part_items[key]
        role = _text(part.get("role"), where, "a role", max_length=32)
        organization = _organization(
            part.get("organization"),
            where,
            form=form,
            earlier=keys[: keys.index(key)],
            responsible=part_item.get("responsible") or [],
            relay=False,
        )
        fields = part.get("fields", {})
        if not isinstance(fields, dict):
            raise CompositionError(f"{where}: fields must be an object")
        part_form = _form(part_item)
        for name, source in fields.items():
            if name not in part_form:
                raise CompositionError(
                    f"{where}: {part_item['basic_code']} has no form field {name!r}"
                )
            _part_source(
                source, f"{where} fields.{name}", form=form, deps=depends[key], parts=part_items
            )
            optional = source.startswith("form:") and not form[source[5:]].get("required")
            if part_form[name].get("required") and optional:
                raise CompositionError(
                    f"{where} fields.{name}: required by {part_item['basic_code']} but mapped "
                    f"from the optional bundle field {source[5:]!r}"
                )
        if missing := [n for n, f in part_form.items() if f.get("required") and n not in fields]:
            raise CompositionError(
                f"{where}: required form fields of {part_item['basic_code']} not mapped: "
                + ", ".join(missing)
            )
        mapping = part.get("materials", {})
        if not isinstance(mapping, dict):
            raise CompositionError(f"{where}: materials must be an object")
        own = {m.get("code") for m in part_item.get("materials") or [] if isinstance(m, dict)}
        for theirs, ours in mapping.items():
            if theirs not in own:
                raise CompositionError(
                    f"{where}: {part_item['basic_code']} has no material {theirs!r}"
                )
            if ours not in materials:
                raise CompositionError(f"{where}: the bundle has no material {ours!r}")
        parts.append(
            {
                "key": key,
                "item": part_item["basic_code"],
                "role": role,
                "organization": organization,
                "depends_on": depends[key],
                "fields": dict(fields),
                "materials": dict(mapping),
            }
        )
    return parts


def _part_source(
    source: object, where: str, *, form: dict, deps: list[str], parts: dict[str, dict]
) -> None:
    if not isinstance(source, str) or not source or len(source) > 500:
        raise CompositionError(f"{where}: a source must be a non-empty string")
    prefix, _, rest = source.partition(":")
    if prefix == "form":
        if rest not in form:
            raise CompositionError(f"{where}: the bundle's form has no field {rest!r}")
    elif prefix == "applicant":
        if rest not in APPLICANT_SOURCES:
            raise CompositionError(f"{where}: applicant:{rest} — one of {APPLICANT_SOURCES}")
    elif prefix == "part":
        dep, _, output = rest.partition(":")
        if dep not in deps:
            raise CompositionError(f"{where}: {source!r} — part {dep!r} is not in depends_on")
        if output not in part_outputs(parts[dep]):
            raise CompositionError(
                f"{where}: {source!r} — part {dep!r} ({parts[dep]['basic_code']}) has no "
                f"output {output!r}"
            )
    elif prefix == "text":
        if not rest:
            raise CompositionError(f"{where}: text: needs a literal")
    else:
        raise CompositionError(
            f"{where}: unknown source {source!r} — form:, applicant:, part: or text:"
        )


def composition_clean(item: dict, items_by_code: dict[str, dict]) -> tuple[list, list]:
    """(stages, parts) of one item, checked."""
    return stages_clean(item, items_by_code), parts_clean(item, items_by_code)


def result_extra_sources(item: dict, items_by_code: dict[str, dict]) -> dict[str, set[str]]:
    """The composition sources the item's own result may use: every stage's outputs of a
    relay, every part's outputs of a bundle (nothing for a plain item)."""
    extra: dict[str, set[str]] = {}
    stages = item.get("stages")
    if isinstance(stages, list) and stages:
        extra["stage"] = {
            f"{s.get('key')}:{o.get('key')}"
            for s in stages
            if isinstance(s, dict)
            for o in (s.get("outputs") or [])
            if isinstance(o, dict)
        }
    parts = item.get("parts")
    if isinstance(parts, list) and parts:
        extra["part"] = {
            f"{p.get('key')}:{output}"
            for p in parts
            if isinstance(p, dict) and p.get("item") in items_by_code
            for output in part_outputs(items_by_code[p["item"]])
        }
    return extra
