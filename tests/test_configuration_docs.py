"""Every variable the settings and gunicorn read from the environment is documented (the
README's configuration table or the docs it points to), and every variable the README's table
names is read."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_ONLY = {"TEST_EMAIL_FILE_PATH"}


def _read_variables() -> set[str]:
    settings_text = "\n".join(
        path.read_text() for path in (ROOT / "privacy_portal" / "settings").glob("*.py")
    )
    gunicorn_text = (ROOT / "privacy_portal" / "gunicorn.conf.py").read_text()
    return (
        set(re.findall(r'\benv(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]*)"', settings_text))
        | set(re.findall(r'os\.environ\.get\(\s*"([A-Z][A-Z0-9_]*)"', gunicorn_text))
    ) - TEST_ONLY


def _readme_table_variables() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Configuration", 1)[1].split("###", 1)[0]
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row)}


def test_every_variable_read_is_documented():
    documents = "\n".join(
        path.read_text() for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    )
    missing = {name for name in _read_variables() if f"`{name}`" not in documents}
    assert missing == set()


def test_every_variable_of_the_readme_table_is_read():
    assert _readme_table_variables() - _read_variables() == set()
