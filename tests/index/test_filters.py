"""The filter dialect: parsing, the reference evaluator, and the Qdrant / Qdrant Edge
translations (structure here; behaviour on the engines is in the connector contract suite)."""

from __future__ import annotations

import pytest

from jina_v3.errors import StoreError, UnsupportedFilterError
from jina_v3.filters import And, Condition, Or, matches, parse_filter

META = {"lang": "en", "year": 2021, "rating": 4.0, "draft": False, "tags": ["a", "b"]}


def test_parse_shapes():
    assert parse_filter({"lang": "en"}) == Condition("lang", "$eq", "en")
    assert parse_filter({"year": {"$gte": 2020, "$lt": 2024}}) == And(
        (Condition("year", "$gte", 2020), Condition("year", "$lt", 2024))
    )
    assert parse_filter({"lang": "en", "draft": False}) == And(
        (Condition("lang", "$eq", "en"), Condition("draft", "$eq", False))
    )
    assert parse_filter({"$or": [{"a": 1}, {"b": {"$in": ["x", "y"]}}]}) == Or(
        (Condition("a", "$eq", 1), Condition("b", "$in", ("x", "y")))
    )


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"lang": {}},
        {"lang": {"$regex": "e"}},
        {"$not": {"lang": "en"}},
        {"$nor": [{"lang": "en"}]},
        {"$and": []},
        {"$or": {"lang": "en"}},
        {"year": {"$gt": "2020"}},
        {"year": {"$gt": True}},
        {"tags": {"$in": "a"}},
        {"tags": {"$in": [["a"]]}},
        {"lang": ["en", "de"]},
        {"lang": None},
        [("lang", "en")],
    ],
)
def test_unsupported_filters(bad):
    with pytest.raises(UnsupportedFilterError) as err:
        parse_filter(bad)
    assert isinstance(err.value, StoreError) and isinstance(err.value, ValueError)


def test_error_names_the_operator_and_the_supported_ones():
    with pytest.raises(UnsupportedFilterError, match=r"'\$regex'.*\$eq.*\$or"):
        parse_filter({"lang": {"$regex": "e"}})


def test_a_deep_or_huge_operand_is_quoted_short():
    deep: dict = {"b": 1}
    for _ in range(900):  # deeper than repr() manages on a busy stack
        deep = {"a": deep}
    for bad in ({"$and": deep}, {"x": {"$eq": deep}}, {"x": {"$in": [*range(10**5), [1]]}}):
        with pytest.raises(UnsupportedFilterError) as info:
            parse_filter(bad)
        assert len(str(info.value)) < 200, str(info.value)[:300]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"lang": "en"}, True),
        ({"lang": {"$ne": "en"}}, False),
        ({"rating": 4}, True),
        ({"rating": {"$gt": 3.5, "$lte": 4}}, True),
        ({"year": {"$lt": 2021}}, False),
        ({"draft": False}, True),
        ({"lang": {"$in": ["de", "en"]}}, True),
        ({"lang": {"$nin": ["de", "en"]}}, False),
        ({"lang": {"$in": []}}, False),
        ({"lang": {"$nin": []}}, True),
        # list fields: any element matches; $ne / $nin: no element does
        ({"tags": "a"}, True),
        ({"tags": {"$in": ["c", "b"]}}, True),
        ({"tags": {"$ne": "a"}}, False),
        ({"tags": {"$ne": "c"}}, True),
        ({"tags": {"$nin": ["b"]}}, False),
        ({"tags": {"$gt": 1}}, False),
        # a missing field satisfies only the negative operators
        ({"editor": "x"}, False),
        ({"editor": {"$ne": "x"}}, True),
        ({"editor": {"$nin": ["x"]}}, True),
        ({"editor": {"$gt": 1}}, False),
        # strings never satisfy a range
        ({"lang": {"$gt": 0}}, False),
        ({"$or": [{"lang": "de"}, {"year": 2021}]}, True),
        ({"$and": [{"lang": "en"}, {"$or": [{"draft": True}, {"tags": "z"}]}]}, False),
    ],
)
def test_reference_semantics(filter, expected):
    assert matches(parse_filter(filter), META) is expected


def test_qdrant_translation_structure():
    pytest.importorskip("qdrant_client")
    from qdrant_client import models

    from jina_v3.connectors.qdrant import to_qdrant_filter

    eq = to_qdrant_filter(parse_filter({"lang": "en"}))
    assert eq == models.Filter(
        must=[models.FieldCondition(key="lang", match=models.MatchValue(value="en"))]
    )
    number = to_qdrant_filter(parse_filter({"rating": 4}))
    assert number.must[0].range == models.Range(gte=4, lte=4)  # matches 4 and 4.0
    ne = to_qdrant_filter(parse_filter({"lang": {"$ne": "en"}}))
    assert ne.must_not[0] == models.FieldCondition(key="lang", match=models.MatchValue(value="en"))
    strings = to_qdrant_filter(parse_filter({"lang": {"$in": ["en", "de"]}}))
    assert strings.must[0].match == models.MatchAny(any=["en", "de"])
    numbers = to_qdrant_filter(parse_filter({"year": {"$in": [2020, 2021.5]}}))
    assert [c.range for c in numbers.should] == [
        models.Range(gte=2020, lte=2020),
        models.Range(gte=2021.5, lte=2021.5),
    ]
    nested = to_qdrant_filter(parse_filter({"$or": [{"a": 1}, {"b": {"$nin": ["x"]}}]}))
    assert len(nested.should) == 2 and nested.should[1].must_not is not None


def test_edge_translation_matches_booleans():
    pytest.importorskip("qdrant_edge")
    from jina_v3.connectors.qdrant_edge import to_edge_filter

    condition = to_edge_filter(parse_filter({"draft": True})).must[0]
    assert condition.match.value is True  # a real boolean, not the integer 1
    ranged = to_edge_filter(parse_filter({"year": {"$gte": 2020}})).must[0]
    assert ranged.range.gte == 2020.0
