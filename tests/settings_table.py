"""The settings table of docs/settings.md, made from the Settings class:
`python tests/settings_table.py` writes the page (tests/test_readme.py checks it is current)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from app.config import Settings, default_data_dir


def settings_rows(
    model: type[BaseModel] = Settings, prefix: str = "DOCRAG_"
) -> Iterator[tuple[str, Any, str]]:
    for name, field in model.model_fields.items():
        annotation = field.annotation
        variable = prefix + name.upper()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from settings_rows(annotation, variable + "__")
        else:
            default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
            yield variable, default, field.description or ""


def render_default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, Path) and value == default_data_dir():
        return "the per-user data folder"  # a path on this machine, not a value to copy
    if isinstance(value, str) and "site-packages" in value:
        return "the packaged all-MiniLM-L6-v2"  # a path on this machine, not a value to copy
    if isinstance(value, list):
        return "`[]`" if not value else f"`{value}`"
    return f"`{value}`"


def table() -> str:
    return "\n".join(f"| `{v}` | {render_default(d)} | {desc} |" for v, d, desc in settings_rows())


SETTINGS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "settings.md"
PAGE_HEADER = """# Settings

Every setting is an environment variable (or a line of a `.env` file in the directory docrag
starts in) with the prefix `DOCRAG_`; nested sections use `__`, as in `DOCRAG_LLM__MODEL`.
Lists are JSON: `DOCRAG_AUTH__API_KEYS='["key-1", "key-2"]'`. This page is generated from
`app/config.py` by `python tests/settings_table.py`.

| variable | default | meaning |
| --- | --- | --- |
"""


def page() -> str:
    return PAGE_HEADER + table() + "\n"


if __name__ == "__main__":
    SETTINGS_PAGE.write_text(page(), "utf-8")
    print(f"wrote {SETTINGS_PAGE}")
