"""Reason categories (METRICS.md §6): codes, keywords in four languages, precedence, user files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from churn_pipeline.reasons import (
    DEFAULT_REASON_MAPPING,
    ReasonMappingError,
    build_mapping,
    fold,
    read_rules,
)
from churn_pipeline.settings import Settings

DEFAULT = build_mapping([read_rules(DEFAULT_REASON_MAPPING)])

CASES = {
    "price_financial": [
        "too_expensive", "Way TOO expensive for us", "Budget cut for next year", "financial difficulty",
        "C'est trop cher pour nous", "Le PRIX a augmenté", "Leider zu teuer geworden", "Die Kosten sind gestiegen",
        "Za drogo!", "Cięcie budżetu", "koszty za wysokie",
    ],
    "no_value": [
        "unused", "We are not using it anymore", "don't need it", "no value seen",
        "Pas utilisé ce mois-ci", "plus besoin", "Ich brauche es nicht mehr", "Kein Bedarf",
        "nie używamy", "Nie potrzebuję tego", "niepotrzebne",
    ],
    "unmet_expectations": [
        "missing_features", "low_quality", "too_complex", "Missing features: SSO", "too many bugs",
        "did not meet expectations", "Fonctionnalités manquantes", "qualité insuffisante",
        "Fehlende Funktionen", "Qualität schlecht", "Brak funkcji raportów", "Jakość słaba",
    ],
    "competitor": [
        "switched_service", "Switched to a competitor", "found a better alternative", "Found a cheaper alternative",
        "partis chez la concurrence", "Zur Konkurrenz gewechselt", "anderen Anbieter gefunden",
        "Przeszliśmy do konkurencji", "konkurent tańszy",
    ],
    "poor_service": [
        "customer_service", "Bad customer service", "slow support response", "Service client décevant",
        "Kundenservice war schlecht", "Słaba obsługa klienta", "obsluga klienta fatalna",
    ],
    "payment_failed": [
        "payment_failed", "not_paid", "no_card", "non-payment", "Card declined", "payment failed twice",
        "carte refusée", "Zahlung fehlgeschlagen", "płatność odrzucona",
    ],
    "other": ["other", "Company closed down", "recherche d'un emploi", "Fusion mit Partnerfirma", "przeprowadzka"],
}  # fmt: skip


@pytest.mark.parametrize(
    ("category", "text"), [(c, t) for c, texts in CASES.items() for t in texts]
)
def test_default_mapping(category: str, text: str) -> None:
    assert DEFAULT.categorize(text)[0] == category


@pytest.mark.parametrize(
    "text",
    ["Recherche terminée", "Neues Abenteuer", "accostage"],  # cher, teuer, cost inside other words
)
def test_keywords_match_only_at_the_start_of_a_word(text: str) -> None:
    assert DEFAULT.categorize(text)[0] == "other"


def test_folding() -> None:
    assert fold("  Obsługa  KLIENTA ") == "obsluga klienta"
    assert fold("Straße Qualität Été") == "strasse qualitat ete"


def test_more_specific_category_wins() -> None:
    assert DEFAULT.categorize("too expensive, and the card was declined") == (
        "payment_failed",
        "keyword:declined",
    )
    assert DEFAULT.categorize("cheaper competitor")[0] == "competitor"
    assert DEFAULT.categorize("price and bad customer service")[0] == "price_financial"


def test_code_beats_keyword(tmp_path: Path) -> None:
    user = tmp_path / "mine.csv"
    user.write_text(
        "match,pattern,category\ncode,Too expensive support,poor_service\nkeyword,wegen umzug,other\n"
    )
    mapping = build_mapping([read_rules(DEFAULT_REASON_MAPPING), read_rules(user)])
    assert mapping.categorize("too EXPENSIVE support ") == (
        "poor_service",
        "code:Too expensive support",
    )
    assert mapping.categorize("Too_Expensive") == ("price_financial", "code:too_expensive")
    assert mapping.categorize("too expensive") == ("price_financial", "keyword:expensive")


def test_user_file_overrides_codes_and_adds_keywords(tmp_path: Path) -> None:
    user = tmp_path / "mine.csv"
    user.write_text(
        "match,pattern,category\n# a comment\ncode,other,no_value\nkeyword,pivot,no_value\n"
    )
    mapping = build_mapping([read_rules(DEFAULT_REASON_MAPPING), read_rules(user)])
    assert mapping.categorize("other")[0] == "no_value"
    assert mapping.categorize("We had to pivot")[0] == "no_value"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("match,pattern\ncode,x\n", r"line 1: the header must be match,pattern,category"),
        ("match,pattern,category\ncode,x,too_pricey\n", r"line 2: unknown category 'too_pricey'"),
        (
            "match,pattern,category\ncode,x,other\ncode,X,no_value\n",
            r"line 3: code 'X' is already mapped on line 2",
        ),
        ("match,pattern,category\nregex,x,other\n", r"line 2: match must be 'code' or 'keyword'"),
        (
            "match,pattern,category\nkeyword,!!,other\n",
            r"line 2: keyword '!!' has no letter or digit",
        ),
        ("match,pattern,category\ncode,x\n", r"line 2: expected 3 fields"),
        ("match,pattern,category\ncode,x,unknown\n", r"line 2: unknown category 'unknown'"),
    ],
)
def test_invalid_files_are_rejected_naming_file_and_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ReasonMappingError, match=rf"bad\.csv, {message}"):
        read_rules(path)


def test_invalid_user_file_fails_the_run(tmp_path: Path) -> None:
    from churn_pipeline.reasons import mapping_for

    path = tmp_path / "bad.csv"
    path.write_text("match,pattern,category\ncode,x,nope\n")
    settings = replace(Settings.from_env({}), reason_mapping_path=path)
    with pytest.raises(ReasonMappingError, match=r"bad\.csv, line 2"):
        mapping_for(settings)
