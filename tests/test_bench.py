"""`make bench` cases that must keep working (their numbers are reported, never asserted)."""
import pytest

from actlab.bench import bench_kernels


@pytest.mark.slow
def test_two_kernels_case_reports_a_ratio_per_setting(capsys):
    result = bench_kernels(n=64, epochs=1, rounds=1, variants={"passive": {"OMP_WAIT_POLICY": "PASSIVE"}})
    assert set(result) == {"passive"} and result["passive"]["single_cost"] == 1.0
    assert all(r["ratio"] > 0 and r["ratio_min"] <= r["ratio"] <= r["ratio_max"] for r in result.values())
    assert "two at once / one after the other" in capsys.readouterr().out
