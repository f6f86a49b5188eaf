"""The hot-path JSON reads what the standard library reads, fast or not."""

from __future__ import annotations

import json

import pytest

from kirin_api import fastjson


@pytest.mark.parametrize(
    "text",
    [
        '{"seed":6093197704018095535,"frames":150}',  # 19 digits: within 64 bits
        '{"seed":18446744073709551615}',  # the largest unsigned 64-bit integer
        '{"seed":123456789012345678901234567890}',  # past 64 bits: orjson would give a float
        '{"seed":-1234567890123456789012}',
        '{"seed":-9223372036854775809}',  # just under the smallest signed 64-bit integer
        '{"name":"a-1234567890123456789 in a string","n":1}',
        '{"ratio":NaN,"big":Infinity}',  # literals JSON lacks, which json reads
        '{"prompt":"une forêt de 2000000000000000000000 arbres","n":-0.5e3}',
        '[1, 2.5, "x", null, true, {"a": []}]',
    ],
)
def test_loads_reads_what_the_standard_library_reads(text: str) -> None:
    expected = json.loads(text)
    got = fastjson.loads(text)
    assert json.dumps(got) == json.dumps(expected)  # NaN compares unequal to itself
    assert [type(v) for v in _leaves(got)] == [type(v) for v in _leaves(expected)]


def test_dumps_writes_compact_utf8_and_falls_back_for_big_integers() -> None:
    assert fastjson.dumps({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}'.encode()
    assert fastjson.dumps({"n": 2**70}) == b'{"n":1180591620717411303424}'


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]
