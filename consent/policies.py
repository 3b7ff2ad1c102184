"""The privacy statement as published, read from ``consent/policies/``.

The text uses a minimal markup: ``## `` starts a heading, ``- `` a list item, any other line
is a paragraph. Consecutive list items form one list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

POLICY_DIR = Path(__file__).resolve().parent / "policies"
STATEMENT_FILE = "privacy-statement.md"
STATEMENT_UPDATED = date(2026, 11, 1)
# Staff write and publish each policy version in one language; it is not translated, so pages
# in another language mark the text as written in this one.
POLICY_LANGUAGE = "en"


@dataclass(frozen=True)
class Block:
    kind: str  # "heading", "paragraph" or "list"
    text: str = ""
    items: tuple[str, ...] = ()


def parse_policy(text: str) -> list[Block]:
    """Return the blocks of a policy text in the minimal markup."""
    blocks: list[Block] = []
    items: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("- "):
            items.append(line[2:].strip())
            continue
        if items:
            blocks.append(Block("list", items=tuple(items)))
            items = []
        if not line:
            continue
        if line.startswith("## "):
            blocks.append(Block("heading", line[3:].strip()))
        else:
            blocks.append(Block("paragraph", line))
    if items:
        blocks.append(Block("list", items=tuple(items)))
    return blocks


@lru_cache(maxsize=8)
def statement_blocks(filename: str = STATEMENT_FILE) -> tuple[Block, ...]:
    """Return the published privacy statement, parsed (cached per process)."""
    return tuple(parse_policy((POLICY_DIR / filename).read_text(encoding="utf-8")))
