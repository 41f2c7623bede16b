"""The stale-result message (core/rundir.py identity_diff): one entry per field that differs."""

from __future__ import annotations

from polyunlearn.core.rundir import identity_diff


def test_empty_mapping_reads_as_absent():
    assert identity_diff({"unlearn": {"method": "ga"}}, {"unlearn": {"method": "ga", "params": {}}}) == []
    assert identity_diff({"unlearn": {"params": {}}}, {"unlearn": {}}) == []
    assert identity_diff({}, {"extra": {}}) == []


def test_real_differences_still_show():
    assert identity_diff({"unlearn": {"params": {}}}, {"unlearn": {"params": {"gamma": 2}}}) == [
        'unlearn.params.gamma: "<absent>" -> 2'
    ]
    assert identity_diff({"a": 1}, {"a": 2}) == ["a: 1 -> 2"]
