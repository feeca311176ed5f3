"""The documented contract of the `reporting` tables, read from docs/tables.md.

docs/tables.md is the one place each published column is described: a section per table
(`## \\`reporting.<name>\\` — ...`) holding a markdown table `| column | type | meaning |`.
A row may name several columns of one type (`` `a`, `b` ``). The same descriptions become the
`dagster/column_schema` metadata of each asset, and the contract test checks the published
tables against them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import dagster as dg

from churn_pipeline.settings import PROJECT_ROOT

TABLES_DOC = PROJECT_ROOT / "docs" / "tables.md"
SECTION = re.compile(r"^## `(reporting\.[a-z_]+)`")
ROW = re.compile(r"^\| (`[^|]+`) \| ([A-Z]+) \| (.+) \|$")


@dataclass(frozen=True)
class DocumentedColumn:
    name: str
    type: str
    description: str


@cache
def documented_tables(path: Path = TABLES_DOC) -> dict[str, list[DocumentedColumn]]:
    tables: dict[str, list[DocumentedColumn]] = {}
    current: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        heading = SECTION.match(line)
        if heading:
            current = heading.group(1)
            tables[current] = []
            continue
        if line.startswith("## "):
            current = None
            continue
        row = ROW.match(line)
        if current and row:
            names = re.findall(r"`([a-z0-9_]+)`", row.group(1))
            tables[current].extend(
                DocumentedColumn(n, row.group(2), row.group(3).strip()) for n in names
            )
    return tables


def column_schema(table: str) -> dg.TableSchema:
    columns = documented_tables().get(table, [])
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=c.name, type=c.type, description=c.description) for c in columns
        ]
    )
