"""A JSON Schema of recipes, generated from the installed registries, for editors.

``recipe_schema(registries)`` describes a recipe file: its top-level keys, and for each section
the registered names (an ``enum``; a namespace such as ``timm/*`` as a ``pattern``) and, through
``if``/``then`` on the name, the keys that factory takes: their types and bounds (pydantic's
JSON Schema of the annotation ``zoo.signatures`` resolves), defaults and a description (the
``name: text`` the factory's docstring gives, and the type in words), with
``additionalProperties: false`` unless the factory takes ``**kwargs``. The schema is draft-07,
the newest draft yaml-language-server (VS Code's YAML extension and others) supports.

A recipe with ``base:`` may leave out what its bases give: the section names and the required
keys are only demanded of a recipe without ``base:``.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any, Iterable

from zoo.kinds import SECTIONS, by_section
from zoo.params import Spec
from zoo.registry import NAME_RE
from zoo.signatures import leading_names, section_parameters
from zoo.type_text import describe_type
from zoo.validation import SEED_RANGE, adapter_for

__all__ = ["DRAFT", "recipe_schema", "schema_text"]

DRAFT = "http://json-schema.org/draft-07/schema#"

# What the recipe's keys zoo reads itself take (``zoo.kinds.Kind.runner_keys``).
RUNNER_KEY_TYPES = {"params": (Spec, "which parameters the optimizer trains: trainable (default), all, head, "
                                     "or module-name globs")}
# JSON Schema's own words in pydantic's output that only clutter an editor's hover
_DROPPED = ("title",)


def _draft7(node: Any) -> Any:
    """pydantic's (draft 2020-12) schema ``node`` in draft-07 words: ``prefixItems`` becomes
    ``items`` as a list (and ``items`` after it ``additionalItems``), ``$defs`` refs point at
    ``definitions``, titles dropped."""
    if isinstance(node, list):
        return [_draft7(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _draft7(v) for k, v in node.items() if k not in _DROPPED}
    if "prefixItems" in out:
        rest = out.pop("items", False)
        out["items"] = out.pop("prefixItems")
        out["additionalItems"] = rest
    if isinstance(out.get("$ref"), str):
        out["$ref"] = out["$ref"].replace("#/$defs/", "#/definitions/")
    return out


def _value_schema(annotation: Any, definitions: dict) -> dict:
    """The JSON Schema of a value of ``annotation`` ({} when pydantic can't say: anything goes);
    the definitions it refers to are added to ``definitions``."""
    adapter = adapter_for(annotation)
    if adapter is None:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydantic's "default not JSON serializable" and the like
            schema = adapter.json_schema(mode="validation")
    except Exception:  # a type pydantic validates but can't describe (a callable, a class)
        return {}
    for name, sub in schema.pop("$defs", {}).items():
        definitions[name] = _draft7(sub)
    return _draft7(schema)


def parameter_docs(doc: str, names: Iterable[str]) -> dict:
    """``{name: text}`` for the ``names`` a docstring describes the way zoo's factories do: ``name:
    text`` at the start of a line or after a sentence (``lr: learning rate. betas: ...``), the
    text running to the next such name or the end of its paragraph."""
    names = sorted(names, key=len, reverse=True)
    if not names:
        return {}
    starts = re.compile(r"(?:^|(?<=\n)|(?<=\. ))(" + "|".join(map(re.escape, names)) + r"): ")
    found: dict = {}
    for paragraph in re.split(r"\n\s*\n", doc):
        text = "\n".join(line.strip() for line in paragraph.splitlines())
        marks = list(starts.finditer(text))
        for mark, after in zip(marks, marks[1:] + [None]):
            said = " ".join(text[mark.end(): after.start() if after else len(text)].split())
            if said:
                found.setdefault(mark.group(1), said)
    return found


def _json_default(value: Any) -> tuple:
    """``(True, value as JSON)`` when ``value`` can be written in a recipe, else ``(False, None)``."""
    try:
        return True, json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return False, None


def factory_schema(entry: Any, section: str, definitions: dict, *, strict: bool) -> dict:
    """The keys ``entry`` (a ``zoo.registry.Entry``) takes in ``section``: ``properties`` with
    types, bounds, defaults and descriptions, ``additionalProperties: false`` unless it takes
    ``**kwargs``. ``strict``: only the ``required`` keys no task fills (for a recipe without
    ``base:``)."""
    kind = by_section(section)
    supplied = leading_names(entry, len(kind.leading))
    params, var_keyword = section_parameters(entry, supplied)
    if strict:
        required = [p.name for p in params.values() if p.required and p.name not in kind.filled]
        return {"required": required} if required else {}
    try:
        defaults = {p.name: p.default for p in entry.signature().parameters.values()}
    except (TypeError, ValueError):
        defaults = {}
    docs = parameter_docs(entry.doc, params)
    properties: dict = {"name": {}}
    for name, param in params.items():
        prop = _value_schema(param.annotation, definitions)
        words = describe_type(param.annotation)
        if param.required:
            words += " (required" + (", or filled from the data)" if name in kind.filled else ")")
        elif name in kind.filled:
            words += " (filled from the data when left out)"
        prop["description"] = f"{docs[name].rstrip('.')} ({words})" if name in docs else words
        default = defaults.get(name)
        plain, value = _json_default(default) if not param.required else (False, None)
        if plain:
            prop["default"] = value
        properties[name] = prop
    for key in kind.runner_keys:
        annotation, words = RUNNER_KEY_TYPES[key]
        properties[key] = dict(_value_schema(annotation, definitions), description=words)
    schema: dict = {"properties": properties}
    if entry.summary:
        schema["description"] = entry.summary
    if not var_keyword:
        schema["additionalProperties"] = False
    return schema


def _branch(name_test: dict, then: dict) -> dict:
    return {"if": {"properties": {"name": name_test}, "required": ["name"]}, "then": then}


def section_schema(registry: Any, section: str, definitions: dict, *, strict: bool) -> dict:
    """The schema of one recipe section: its ``name`` among ``registry``'s names (and its
    namespaces' patterns), then the keys of the factory named. ``strict``: only what a recipe
    without ``base:`` must have (the name, the required keys)."""
    kind = by_section(section)
    names = registry.names()
    namespaces = sorted(registry.namespaces.items())
    branches = []
    for name in names:
        entry = registry.get(name)
        then = factory_schema(entry, section, definitions, strict=strict)
        if then:
            branches.append(_branch({"const": name}, then))
    for prefix, namespace in namespaces:
        then = factory_schema(namespace.entry("*"), section, definitions, strict=strict)
        if then:
            branches.append(_branch({"type": "string", "pattern": f"^{prefix}/"}, then))
    if strict:
        schema: dict = {"required": ["name"]}
    else:
        choices: list = [{"enum": names}] + [
            {"type": "string", "pattern": f"^{prefix}/", "description": namespace.summary or f"{prefix}/<name>"}
            for prefix, namespace in namespaces]
        name_schema = {"description": f"which {kind.singular} ('zoo list {kind.registry}' shows them)",
                       "anyOf": choices}
        schema = {"type": "object", "description": f"the {kind.singular}: its name and the keys its factory takes",
                  "properties": {"name": name_schema}}
    if branches:
        schema["allOf"] = branches
    return schema


def recipe_schema(registries: Any) -> dict:
    """The JSON Schema (draft-07) of a recipe file for the components in ``registries``
    (``zoo.registry.Registries``)."""
    definitions: dict = {}
    properties: dict = {
        "name": {"type": "string", "pattern": "^" + NAME_RE.pattern.removesuffix("\\Z") + "$",
                 "description": "the recipe's name: its runs go under runs/<name>/ (default: the file's name)"},
        "seed": {"type": "integer", "minimum": SEED_RANGE[0], "maximum": SEED_RANGE[1],
                 "description": "seeds python, numpy and torch"},
        "base": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                 "description": "recipe file(s), relative to this one, merged under it"},
        "description": {"type": ["string", "null"], "description": "what the recipe trains, in words"},
    }
    strict: dict = {}
    for section in SECTIONS:
        registry = registries[by_section(section).registry]
        properties[section] = {"anyOf": [{"$ref": f"#/definitions/{section}"}, {"type": "null"}]}
        definitions[section] = section_schema(registry, section, definitions, strict=False)
        strict[section] = section_schema(registry, section, definitions, strict=True)
    return {
        "$schema": DRAFT,
        "title": "zoo recipe",
        "description": "A zoo recipe: a task, its data, model, loss, optimizer and scheduler "
                       "(generated by 'zoo schema' from the installed plugins)",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        # a recipe without base: stands alone: a task, each section naming its component
        "if": {"not": {"required": ["base"]}},
        "then": {"required": ["task"], "properties": strict},
        "definitions": definitions,
    }


def schema_text(registries: Any) -> str:
    """``recipe_schema(registries)`` as indented JSON text, ending in a newline."""
    return json.dumps(recipe_schema(registries), indent=2) + "\n"
