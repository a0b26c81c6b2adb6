"""The audit trail's pure parts: whose data a request touched, and what of the query is kept."""

from __future__ import annotations

from shared.audit import MASK, masked_query, subjects_of


def test_subjects_come_from_the_url_and_from_every_item_of_the_answer() -> None:
    answer = [
        {"id": "case_1", "tenant_id": "ten_a"},
        {"id": "case_2", "tenant_id": "ten_b"},
        "not a record",
    ]
    assert subjects_of({"building_id": "bld_9"}, answer) == [
        "building:bld_9",
        "case:case_1",
        "tenant:ten_a",
        "case:case_2",
        "tenant:ten_b",
    ]


def test_an_answer_names_its_own_kind_by_its_id_prefix() -> None:
    assert subjects_of({}, {"id": "ten_x", "building_id": "bld_1"}) == ["tenant:ten_x"]
    assert subjects_of({"recipient": "custode.rossi"}, None) == ["recipient:custode.rossi"]
    assert subjects_of({}, {"id": 7}) == []  # no id text, no subject


def test_search_values_are_masked_and_filters_kept() -> None:
    query = masked_query([("name", "Rossi"), ("building_id", "bld_1"), ("fiscal_code", "X")])
    assert query == {"name": [MASK], "building_id": ["bld_1"], "fiscal_code": [MASK]}


def test_any_parameter_name_a_client_sends_can_be_stored_as_a_key() -> None:
    # Names are the client's: NUL, dots and a leading $ are not valid document keys.
    query = masked_query([("a\x00b", "1"), ("x.y", "2"), ("$where", "3"), ("k" * 300, "4")])
    assert query == {"a\ufffdb": ["1"], "x\uff0ey": ["2"], "\uff04where": ["3"], "k" * 100: ["4"]}
    assert all("\x00" not in k and "." not in k and not k.startswith("$") for k in query)
