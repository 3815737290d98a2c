"""Which parameters an optimizer trains: the recipe's ``optimizer.params`` selector.

``select_parameters(model, spec)`` understands:

- ``"trainable"`` (the default): every parameter with ``requires_grad`` (what is left after
  freezing);
- ``"all"``: every parameter;
- ``"head"``: the parameters of the model's head: the module(s) named by the model's
  ``zoo_head`` attribute (a dotted module path or a list of them; zoo's own model factories set
  it), else its last child module that has parameters;
- a module-name glob or a list of them (``["classifier", "features.denseblock4*"]``): the
  parameters whose name, or the name of a module holding them, matches one (fnmatch).

The runner calls it for the optimizer section; model factories use ``freeze``; a training loop
switches to training mode with ``train_unfrozen``, which keeps the frozen modules in eval mode.
"""

from fnmatch import fnmatchcase
from typing import Any, Iterable, Union

from zoo.errors import UserError

KEYWORDS = ("trainable", "all", "head")
Spec = Union[str, list]


def _owners(name: str) -> list:
    """``"a.b.weight"`` -> ``["a", "a.b", "a.b.weight"]``: the names a glob may match for one parameter."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def match_parameters(model: Any, patterns: Iterable[str], *, key: str = "params") -> list:
    """The ``(name, parameter)`` pairs of ``model`` matched by any of the module-name globs ``patterns``.

    A parameter matches when its own name or the name of any module above it matches (so
    ``"features"`` takes everything under ``features``). A pattern matching nothing is a
    UserError naming ``key`` and listing the model's top-level modules.
    """
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    named = list(model.named_parameters())
    chosen, used = [], set()
    for name, param in named:
        owners = _owners(name)
        hits = [p for p in patterns if any(fnmatchcase(o, p) for o in owners)]
        if hits:
            chosen.append((name, param))
            used.update(hits)
    unused = [p for p in patterns if p not in used]
    if unused:
        children = ", ".join(n for n, _ in model.named_children()) or "none"
        raise UserError(
            f"{key}: {', '.join(repr(p) for p in unused)} matches no parameter of "
            f"{type(model).__name__} (its top-level modules: {children})"
        )
    return chosen


def head_modules(model: Any) -> list:
    """The ``(name, module)`` pairs making the model's head (see the module docstring)."""
    head = getattr(model, "zoo_head", None)
    if head:
        names = [head] if isinstance(head, str) else list(head)
        return [(n, model.get_submodule(n)) for n in names]
    children = [(n, m) for n, m in model.named_children() if any(True for _ in m.parameters())]
    return children[-1:]


def select_parameters(model: Any, spec: Spec = "trainable", *, key: str = "optimizer.params") -> list:
    """The parameters of ``model`` that ``spec`` selects, in model order, each once.

    ``spec``: ``"trainable"``, ``"all"``, ``"head"``, a module-name glob, or a list of globs
    (see the module docstring). Returns a list of ``torch.nn.Parameter``. An empty selection
    (e.g. ``"trainable"`` on a fully frozen model) is a UserError naming ``key`` and the spec.
    """
    if spec is None:
        spec = "trainable"
    if spec == "trainable":
        chosen = [p for p in model.parameters() if p.requires_grad]
    elif spec == "all":
        chosen = list(model.parameters())
    elif spec == "head":
        chosen = [p for _, module in head_modules(model) for p in module.parameters()]
    elif isinstance(spec, str) or (isinstance(spec, (list, tuple)) and all(isinstance(s, str) for s in spec)):
        chosen = [p for _, p in match_parameters(model, spec, key=key)]
    else:
        raise UserError(
            f"{key}: expected one of {', '.join(KEYWORDS)}, a module-name glob or a list of globs; got {spec!r}"
        )
    unique, seen = [], set()
    for p in chosen:
        if id(p) not in seen:
            seen.add(id(p))
            unique.append(p)
    if not unique:
        raise UserError(f"{key}: {spec!r} selects no parameters of {type(model).__name__}"
                        + (" (all of them are frozen)" if spec == "trainable" else ""))
    return unique


def freeze(model: Any, spec: Union[bool, str, list], *, keep: Iterable[str] = (), key: str = "model.freeze") -> list:
    """Set ``requires_grad=False`` on the parameters ``spec`` names; return their names.

    Turning off gradients leaves a module's other training behaviour on (BatchNorm updating its
    running statistics, dropout); a training loop that switches with ``train_unfrozen`` instead
    of ``model.train()`` keeps the modules frozen here in eval mode, so they stay as loaded.

    ``spec``: ``True`` freezes everything except the modules in ``keep`` (the new head),
    ``False``/``None`` nothing, a module-name glob or a list of them the parameters they match
    (see ``match_parameters``). Unmatched globs are a UserError naming ``key``.
    """
    if spec is None or spec is False:
        return []
    if spec is True:
        keep = tuple(keep)
        chosen = [(n, p) for n, p in model.named_parameters()
                  if not any(n == k or n.startswith(k + ".") for k in keep)]
    else:
        chosen = match_parameters(model, spec, key=key)
    for _, param in chosen:
        param.requires_grad_(False)
    return [n for n, _ in chosen]


def frozen_modules(model: Any) -> list:
    """The outermost modules of ``model`` that have parameters and none of them trainable
    (``requires_grad`` False for every parameter at or below the module), in model order;
    ``[model]`` when the whole model is frozen, ``[]`` when it has nothing frozen."""
    found: list = []

    def visit(module: Any) -> tuple:  # (has parameters, has a trainable one), at or below module
        own = list(module.parameters(recurse=False))
        has, trainable = bool(own), any(p.requires_grad for p in own)
        frozen_children = []
        for child in module.children():
            child_has, child_trainable = visit(child)
            has, trainable = has or child_has, trainable or child_trainable
            if child_has and not child_trainable:
                frozen_children.append(child)
        if trainable:  # a frozen module's own children are covered by it
            found.extend(frozen_children)
        return has, trainable

    has, trainable = visit(model)
    return [model] if has and not trainable else found


def train_unfrozen(model: Any) -> Any:
    """Put ``model`` in training mode except its frozen modules (``frozen_modules``), which stay
    in eval mode: a frozen BatchNorm keeps its running statistics and normalises with them, a
    dropout inside a frozen module is off, as when its outputs are computed once in eval mode.
    Use it wherever a training loop would call ``model.train()``. Returns ``model``."""
    frozen = frozen_modules(model)
    model.train()
    for module in frozen:
        module.eval()
    return model
