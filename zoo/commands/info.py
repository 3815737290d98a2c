"""``zoo info KIND NAME``: one entry's provenance, parameters (its recipe schema) and docs."""

from __future__ import annotations

import inspect
import json
import logging
import textwrap
import warnings
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Sequence

from zoo.commands.listing import listed_kind
from zoo.errors import UserError
from zoo.type_text import printable


def parse_assignments(items: Sequence[str]) -> dict:
    """``["freeze=features", "head=[128]"]`` -> ``{"freeze": "features", "head": [128]}`` (YAML values)."""
    import yaml

    found = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"expected KEY=VALUE, got {item!r}")
        try:
            found[key] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError as exc:
            raise UserError(f"cannot parse the value of {key!r}: {' '.join(str(exc).split())}") from None
    return found


def describe_parameter(param: inspect.Parameter, annotation: Any = inspect.Parameter.empty) -> dict:
    """One recipe key of a factory: name, type (readable, with bounds), required, default.

    ``annotation``: the parameter's resolved annotation (``param.annotation`` when not given;
    a string annotation is shown as written).
    """
    from zoo.type_text import describe_type

    if annotation is inspect.Parameter.empty:
        annotation = param.annotation
    if annotation is inspect.Parameter.empty:
        type_text = None
    elif isinstance(annotation, str):
        type_text = annotation
    else:
        type_text = describe_type(annotation)
    described = {"name": param.name, "type": type_text, "required": param.default is inspect.Parameter.empty}
    if param.default is not inspect.Parameter.empty:
        if _plain(param.default):
            described["default"] = param.default
        else:
            described["default_repr"] = repr(param.default)  # not a value a recipe can hold
    if param.kind is inspect.Parameter.VAR_KEYWORD:
        described["name"] = "**" + param.name
        described["required"] = False
    return described


def _as_yaml(value: Any) -> str:
    """``value`` as a recipe would write it (YAML 1.2, as recipes are read): ``null``, ``true``,
    ``auto``, ``[0.9, 0.999]``, ``'1e3'`` for a string that would read as a number."""
    from zoo.recipe import dump_value

    return dump_value(json.loads(json.dumps(value)))  # tuples become lists


def _plain(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def model_statistics(entry: Any, kwargs: dict) -> dict:
    """Build the model (without downloading weights) and count its parameters.

    The model is built only to be counted: the warnings its factory gives for training with it
    (``logging`` records, ``warnings``) are not shown.
    """
    params = entry.signature().parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if ("pretrained" in params or accepts_any) and "pretrained" not in kwargs:
        kwargs = dict(kwargs, pretrained=False)
    with training_warnings_hidden():
        model = entry.create(**kwargs)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    stats = {"parameter_count": total, "trainable_parameter_count": trainable}
    input_size = entry.metadata.get("input_size")
    cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None)
    if input_size is None and isinstance(cfg, dict):
        input_size = cfg.get("input_size")
    if input_size is not None:
        stats["input_size"] = list(input_size)
    return stats


def stored_card_name(entry: Any, models: Any) -> str:
    """The name model ``entry``'s computed card is stored under (``zoo.catalog_columns.card_name``),
    as ``zoo list models`` looks it up: a pretrained tag's (``timm/resnet18.a1_in1k``) is its
    architecture's unless the tag is built differently. ``models``: the models registry."""
    from zoo.catalog_columns import card_name

    tag = (entry.metadata.get("card") or {}).get("tag")
    if not tag or not entry.name.endswith(f".{tag}"):
        return entry.name
    architecture = entry.name[:-len(tag) - 1]
    try:
        tags = models.get(architecture).metadata.get("pretrained_tags") or {}
    except UserError:  # a name with a dot that is not a tag
        return entry.name
    return card_name(entry.name, architecture, tags.get(tag))


def model_card(entry: Any, described: dict, models: Any) -> dict:
    """The catalog card of model ``entry`` (``described``: its ``describe()``; ``models``: the
    models registry): every column of ``zoo.catalog_columns``, published figures first, then the
    computed card, which is computed now (on the meta device) and kept when the cards of its
    source lack it. Its ``not_computed`` says why a figure could not be computed, when one could not."""
    from zoo.catalog import card_key, card_keys
    from zoo.catalog_cards import CardStore
    from zoo.catalog_columns import card_source, flat_row
    from zoo.catalog_compute import compute_card

    card = described.get("metadata", {}).get("card") or {}
    row = {"name": entry.name, "plugin": entry.plugin, "summary": entry.summary, "card": card}
    store = CardStore(card_source(described), card_key(entry.plugin, card_keys()))
    name = stored_card_name(entry, models)
    computed, problem = store.cards.get(name), store.failed.get(name)
    if computed is None:
        computed, problem = compute_card(entry, card.get("input_size"))
        try:
            with store:
                store.add(name, computed, problem)
        except OSError:  # an unwritable cache folder: the card is shown, not kept
            pass
    shown = flat_row(row, computed)
    if problem:
        shown["not_computed"] = problem
    return shown


def task_declarations(entry: Any, kwargs: dict) -> dict:
    """What a task declares (``zoo.task``): the recipe sections it uses and the checkpoints it
    keeps, read from the task its factory builds with ``kwargs`` (its defaults otherwise).
    Returns {} when the factory needs keys not given."""
    from zoo.task import traits_of

    try:
        traits = traits_of(entry.create(**kwargs), entry.name, entry.metadata)
    except Exception:  # a factory with required keys: the rest of the info still helps
        return {}
    declared = {"sections": list(traits.sections), "optional_sections": list(traits.optional_sections)}
    if traits.checkpoints is not None:
        declared["checkpoints"] = {"resume": traits.checkpoints.resume, "best": traits.checkpoints.best}
    return declared


@contextmanager
def training_warnings_hidden() -> Iterator[None]:
    """Within the block, log records up to WARNING and Python warnings are dropped (errors still show)."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def missing_name(word: str) -> UserError:
    """The mistake of ``zoo info WORD`` without a NAME: a ``zoo.UserError`` saying how to write it
    (``zoo info model timm/resnet50.a1_in1k`` when ``word`` is a model's name, not a kind)."""
    from zoo.kinds import KINDS

    try:
        kind = listed_kind(word)
    except UserError:  # a name without its kind: which kind holds it, from the catalog
        from zoo import catalog

        entries = catalog.load(quiet=True)["entries"]
        held = [k.singular for k in KINDS if any(e["name"] in (word, word.rsplit(".", 1)[0])
                                                 for e in entries.get(k.registry, []))]
        if held:
            return UserError(f"zoo info takes a KIND before the NAME: zoo info {held[0]} {word}")
        return UserError(f"zoo info takes a KIND before the NAME: zoo info KIND {word} "
                         f"(KIND: {', '.join(k.singular for k in KINDS)}, recipe)")
    return UserError(f"zoo info {word} needs a NAME: 'zoo list {kind}' shows them")


def info_command(kind: str, name: Optional[str], assignments: Sequence[str], *, as_json: bool = False) -> int:
    """``zoo info KIND NAME [KEY=VALUE ...]``: one entry's provenance, recipe keys (the factory's
    parameters, those zoo passes itself left out) and docs; a model's parameter counts, built
    with the ``assignments``. Returns 0; an unknown kind or name, or a name without its kind
    (``missing_name``), is a ``zoo.UserError``."""
    if name is None:
        raise missing_name(kind)
    kind = listed_kind(kind)
    if kind == "recipes":
        return recipe_info(name, as_json=as_json)
    from zoo.kinds import by_registry
    from zoo.plugins import get_manager
    from zoo.signatures import resolved_annotations

    kwargs = parse_assignments(assignments)
    registry = get_manager().registries[kind]
    entry = registry.get(name)
    leading = len(by_registry(kind).leading)  # passed by zoo (an optimizer's params), not the recipe
    shown = [p for p in list(entry.signature().parameters.values())[leading:]
             if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    info = entry.describe()
    resolved = resolved_annotations(entry.load(), shown)
    info["parameters"] = [describe_parameter(p, resolved.get(p.name, inspect.Parameter.empty)) for p in shown]
    info["doc"] = entry.doc
    if kind == "models":
        info["card"] = model_card(entry, info, registry)
        try:
            info.update(model_statistics(entry, kwargs))
        except Exception as exc:  # the statistics are extra; the rest of the info still helps
            info["statistics_error"] = f"{type(exc).__name__}: {exc}"
    if kind == "tasks":
        info.update(task_declarations(entry, kwargs))
    if as_json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(printable(format_info(info, kind), keep="\n"))
    return 0


def format_info(info: dict, kind: str) -> str:
    """``info`` (what ``info_command`` gathers) as text; ``kind`` is its registry name."""
    from zoo.kinds import by_registry

    lines = [f"{info['name']} ({info['kind']})"]
    if info["summary"]:
        lines.append(f"  {info['summary']}")
    dist = f"{info['distribution']} {info['version']}" if info.get("distribution") else "not installed"
    lines.append(f"plugin: {info['plugin']} (distribution: {dist})")
    if info["tags"]:
        lines.append(f"tags: {', '.join(info['tags'])}")
    section = by_registry(kind).section
    lines.append(f"recipe keys ({section}: section, besides name):")
    params = info["parameters"]
    if not params:
        lines.append("  (none)")
    for p in params:
        text = f"  {p['name']}"
        if p["type"]:
            text += f": {p['type']}"
        if "default" in p:
            text += f" = {_as_yaml(p['default'])}"
        elif "default_repr" in p:
            text += f" = {p['default_repr']}"
        elif p["required"]:
            text += "  (required)"
        lines.append(text)
    if "parameter_count" in info:
        lines.append(f"parameters: {info['parameter_count']:,} total, "
                     f"{info['trainable_parameter_count']:,} trainable")
    if "input_size" in info:
        lines.append(f"default input size: {' x '.join(str(n) for n in info['input_size'])}")
    if "statistics_error" in info:
        lines.append(f"parameters: not counted ({info['statistics_error']})")
    if "card" in info:
        lines.extend(card_lines(info["card"], info.get("metadata", {}).get("pretrained_tags"), info["name"]))
    if "sections" in info:
        lines.append(f"sections: {', '.join(info['sections'])}")
        if info["optional_sections"]:
            lines.append(f"optional sections: {', '.join(info['optional_sections'])}")
        saved = info.get("checkpoints") or {}
        lines.append(f"checkpoints: {', '.join(f'{k} {v}' for k, v in saved.items() if v) or 'none'}")
    for key, value in info.get("metadata", {}).items():
        if value is not None and key not in ("card", "pretrained_tags") and not (
                key in ("input_size", "sections") and key in info):
            lines.append(f"{key}: {', '.join(map(str, value)) if isinstance(value, (list, tuple)) else value}")
    if info.get("doc"):
        lines.append("")
        lines.append(textwrap.indent(info["doc"], "  "))
    return "\n".join(lines)


def card_lines(card: dict, tags: Any, name: str) -> list:
    """The text lines of a model's catalog card (``model_card``): its figures (``?`` where unknown)
    and, for an architecture, the tagged names of its pretrained weights."""
    from zoo.catalog_columns import COLUMNS, shown

    figures = [c for c in COLUMNS if c not in ("name", "plugin", "summary", "res")]
    cells = dict(zip(figures, shown(card, figures)))
    lines = ["card ('?': not published by its source, and not computable without weights):"]
    lines.append(f"  params {cells['params']}, {cells['gmacs']} GMACs at {cells['input_size']}, "
                 f"head features {cells['features']}, classes {cells['num_classes']}")
    lines.append(f"  ImageNet-1K top-1 {cells['top1']}%, top-5 {cells['top5']}%; mean {cells['mean']}, std {cells['std']}")
    weights = f"pretrained weights: {cells['pretrained']}"
    if card.get("pretrained"):
        weights += f" (tag {cells['tag']}, license {cells['license']}, file {cells['file_mb']} MB)"
    lines.append(f"  {weights}")
    if card.get("not_computed"):
        lines.append(f"  not computed: {card['not_computed']}")
    if tags:
        listed = ", ".join(f"{name}.{tag}" for tag in tags)
        lines.append(f"  {len(tags)} pretrained tag{'s' if len(tags) != 1 else ''}, each a model name: {listed}")
    return lines


def recipe_info(name: str, *, as_json: bool = False) -> int:
    """``zoo info recipe NAME``: the recipe file's path and text. Returns 0."""
    from zoo import catalog
    from zoo.recipe_bases import display_path, read_recipe_text
    from zoo.recipe_index import find_recipes, resolve_recipe

    data = catalog.load()
    path = resolve_recipe(name, data.get("recipe_dirs", []))
    if path is None:
        from zoo.registry import suggest

        names = [r["name"] for r in find_recipes(data.get("recipe_dirs", []))]
        close = suggest(name, names)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise UserError(f"unknown recipe {name!r}{hint}; 'zoo list recipes' shows them all")
    text = read_recipe_text(path, display_path(path))
    if as_json:
        print(json.dumps({"name": path.stem, "kind": "recipe", "path": str(path), "text": text}, indent=2))
    else:
        print(printable(f"{path.stem} (recipe) {path}\n\n{text.rstrip()}", keep="\n"))
    return 0
