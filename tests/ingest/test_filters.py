"""One filter language, two translations: Chroma's `where` and the lexical engine's facet
terms. Whether both engines then return the same chunks is checked against real Chroma in
tests/ingest/test_lexical.py."""

from __future__ import annotations

from ingest.filters import Filters, facet_term, facet_terms


def test_where_clauses_are_what_chroma_was_given_before() -> None:
    assert Filters().where() is None
    assert Filters(document_ids=("a",)).where() == {"document_id": "a"}
    assert Filters(filenames=("x.pdf", "y.pdf")).where() == {
        "filename": {"$in": ["x.pdf", "y.pdf"]}
    }
    assert Filters(document_ids=("a", "b"), metadata={"year": [2024], "team": "ops"}).where() == {
        "$and": [
            {"document_id": {"$in": ["a", "b"]}},
            {"meta.year": 2024},
            {"meta.team": "ops"},
        ]
    }


def test_a_chunk_matches_a_clause_through_any_of_its_values() -> None:
    chunk = set(facet_terms("a", {"filename": "x.pdf", "meta.year": 2024, "ordinal": 3}))
    clauses = Filters(document_ids=("b", "a"), metadata={"year": [2023, 2024]}).facet_clauses()
    assert all(clause & chunk for clause in clauses)
    missing = Filters(filenames=("y.pdf",)).facet_clauses()
    assert not all(clause & chunk for clause in missing)
    # Only the fields a filter can name become terms.
    assert len(chunk) == 3


def test_values_compare_as_chroma_compares_them() -> None:
    assert facet_term("meta.year", 2024) == facet_term("meta.year", 2024.0)
    assert facet_term("meta.year", 2024) != facet_term("meta.year", "2024")
    assert facet_term("meta.flag", True) != facet_term("meta.flag", 1)
