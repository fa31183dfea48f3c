"""`make bench` cases that must keep working (their numbers are reported, never asserted)."""
import pytest

from actlab.bench import bench_kernels


@pytest.mark.slow
def test_two_kernels_case_reports_a_ratio_per_setting(capsys):
    result = bench_kernels(n=64, epochs=1, rounds=1, variants={"passive": {"OMP_WAIT_POLICY": "PASSIVE"}})
    assert set(result) == {"passive"} and result["passive"]["single_cost"] == 1.0
    assert all(r["ratio"] > 0 and r["ratio_min"] <= r["ratio"] <= r["ratio_max"] for r in result.values())
    assert "two at once / one after the other" in capsys.readouterr().out


@pytest.mark.slow
def test_sweep_case_reports_a_ratio_of_sequential_to_two_workers(capsys):
    from actlab.bench import bench_sweep

    result = bench_sweep(n=64, epochs=1, rounds=1)
    assert result["ratio_min"] <= result["ratio"] <= result["ratio_max"] and result["ratio"] > 0
    assert result["identical_same_threads"]  # with sequential's thread count, the pool gives the same numbers
    assert "sequential / 2 workers" in capsys.readouterr().out


def test_key_case_reports_the_key_s_cost_and_its_share_of_a_run(capsys, tmp_path, monkeypatch):
    from actlab.bench import bench_key

    monkeypatch.setenv("ACTLAB_DATA", str(tmp_path))
    result = bench_key(n=64, n_test=32, rounds=1, repeats=2)
    assert result["key_min"] <= result["key"] <= result["key_max"] and result["run"] > 0
    assert "key / run" in capsys.readouterr().out
