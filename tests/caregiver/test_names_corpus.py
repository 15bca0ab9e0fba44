"""The loved one's name check against names people really type (bench/names_bench.py)."""

from bench.names_bench import measure


def test_every_real_name_is_accepted_and_more_than_a_name_refused():
    result = measure()
    assert result["wrongly_refused"] == []
    assert result["wrongly_accepted"] == []
    assert result["accepted"][1] >= 140
    assert result["refused"][1] >= 70
