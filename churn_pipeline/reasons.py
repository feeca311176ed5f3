"""Churn reason categories (METRICS.md §6): a mapping file that is data, not code.

The file is a CSV with columns `match,pattern,category`; lines starting with `#` are
comments. `code` rows match the whole reason (trimmed, case-insensitive) and win over any
keyword. `keyword` rows match at the start of a word of the folded text (lower case, accents
removed, ł→l, ß→ss and the like), so "cher" fires on "trop cher" but not inside "recherche".
When keywords of several categories match, the more specific category wins (CATEGORY_PRIORITY).
A reason that matches nothing is `other`. A user file (CHURN_REASON_MAPPING) is read after
the shipped defaults: its codes replace default codes, its keywords are added.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from churn_pipeline.settings import PACKAGE_ROOT, Settings

DEFAULT_REASON_MAPPING = PACKAGE_ROOT / "reference" / "reason_mapping.csv"
CATEGORY_PRIORITY = (
    "payment_failed",
    "competitor",
    "price_financial",
    "poor_service",
    "unmet_expectations",
    "no_value",
)
CATEGORIES = (*CATEGORY_PRIORITY, "other", "unknown")
EXTRA_FOLDS = str.maketrans(
    {"ł": "l", "Ł": "l", "ß": "ss", "ẞ": "ss", "đ": "d", "Đ": "d", "ø": "o", "Ø": "o",
     "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ı": "i", "’": "'", "‘": "'"}
)  # fmt: skip


class ReasonMappingError(ValueError):
    """The mapping file is invalid; the message names the file and line."""


def fold(text: str) -> str:
    """Lower-case plain letters: accents stripped, and the letters NFKD leaves alone folded."""
    decomposed = unicodedata.normalize("NFKD", text.translate(EXTRA_FOLDS))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.lower().split())


@dataclass(frozen=True)
class ReasonRule:
    match: str  # "code" | "keyword"
    pattern: str
    category: str
    source: str  # "file:line", for error messages and the matched_rule column


@dataclass(frozen=True)
class ReasonMapping:
    codes: dict[str, ReasonRule]
    keyword_patterns: dict[str, re.Pattern[str]]
    keyword_rules: dict[str, list[ReasonRule]]

    def categorize(self, reason: str) -> tuple[str, str | None]:
        """(category, the rule that decided it) for a non-empty raw reason."""
        code = self.codes.get(reason.strip().lower())
        if code is not None:
            return code.category, f"code:{code.pattern}"
        folded = fold(reason)
        for category in CATEGORY_PRIORITY:
            pattern = self.keyword_patterns.get(category)
            if pattern is None:
                continue
            found = pattern.search(folded)
            if found:
                return category, f"keyword:{found.group(1)}"
        return "other", None


def read_rules(path: Path) -> list[ReasonRule]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise ReasonMappingError(f"{path}: cannot be read ({error.strerror})") from None
    rules: list[ReasonRule] = []
    with handle:
        lines = list(csv.reader(handle))
    if not lines or [c.strip().lower() for c in lines[0]] != ["match", "pattern", "category"]:
        raise ReasonMappingError(f"{path}, line 1: the header must be match,pattern,category")
    seen_codes: dict[str, int] = {}
    for number, cells in enumerate(lines[1:], start=2):
        if not cells or not "".join(cells).strip() or cells[0].lstrip().startswith("#"):
            continue
        where = f"{path}, line {number}"
        if len(cells) != 3:
            raise ReasonMappingError(
                f"{where}: expected 3 fields (match,pattern,category), got {len(cells)}"
            )
        match, pattern, category = (c.strip() for c in cells)
        match = match.lower()
        if match not in ("code", "keyword"):
            raise ReasonMappingError(f"{where}: match must be 'code' or 'keyword', got {match!r}")
        if category not in CATEGORIES or category == "unknown":
            raise ReasonMappingError(
                f"{where}: unknown category {category!r}; use one of {', '.join(CATEGORIES[:-1])}"
            )
        if match == "code":
            key = pattern.lower()
            if not key:
                raise ReasonMappingError(f"{where}: empty code")
            if key in seen_codes:
                raise ReasonMappingError(
                    f"{where}: code {pattern!r} is already mapped on line {seen_codes[key]}"
                )
            seen_codes[key] = number
        elif not re.search(r"[a-z0-9]", fold(pattern)):
            raise ReasonMappingError(
                f"{where}: keyword {pattern!r} has no letter or digit to match"
            )
        rules.append(ReasonRule(match, pattern, category, f"{path.name}:{number}"))
    return rules


def build_mapping(rule_sets: Iterable[list[ReasonRule]]) -> ReasonMapping:
    codes: dict[str, ReasonRule] = {}
    keyword_rules: dict[str, list[ReasonRule]] = {}
    for rules in rule_sets:
        for rule in rules:
            if rule.match == "code":
                codes[rule.pattern.lower()] = rule
            else:
                keyword_rules.setdefault(rule.category, []).append(rule)
    patterns = {}
    for category, rules in keyword_rules.items():
        words = sorted({fold(r.pattern) for r in rules}, key=len, reverse=True)
        alternatives = "|".join(re.escape(w) for w in words)
        patterns[category] = re.compile(rf"(?<![a-z0-9])({alternatives})")
    return ReasonMapping(codes, patterns, keyword_rules)


def mapping_for(settings: Settings) -> ReasonMapping:
    rule_sets = [read_rules(DEFAULT_REASON_MAPPING)]
    if settings.reason_mapping_path is not None:
        rule_sets.append(read_rules(settings.reason_mapping_path))
    return build_mapping(rule_sets)


CATEGORIZED_REASON_COLUMNS = (
    ("reason_raw", "varchar"),
    ("mapped_category", "varchar"),
    ("matched_rule", "varchar"),
)


def categorize_reasons(
    mapping: ReasonMapping, reasons: Iterable[str]
) -> list[tuple[str, str, str | None]]:
    """(reason_raw, mapped_category, matched_rule) of each reason."""
    return [(reason, *mapping.categorize(reason)) for reason in reasons]
