"""``zoo schema [--output FILE]``: the JSON Schema of recipes, for editors (``zoo.schema``)."""

from __future__ import annotations

from typing import Optional


def schema_command(output: Optional[str] = None) -> int:
    """Print the recipe schema of the installed plugins, or write it to ``output`` atomically
    (the file is replaced whole or left as it was). Returns 0."""
    from zoo.atomic import write_text
    from zoo.plugins import get_manager
    from zoo.schema import schema_text

    text = schema_text(get_manager().registries)
    if output is None:
        print(text, end="")
        return 0
    write_text(output, text)
    return 0
