"""The order a build hands its jobs to the workers (batch.job_order)."""

from svtools.publish.batch import job_order
from svtools.publish.run_cache import Job


def _job(job_id, pfa, inputs, definition="d1"):
    return Job(job_id=job_id, notebook="nb.ipynb", name="nb", level="csp" if pfa else "dataset", area_code=None,
               area_name="", pfa_code=pfa, pfa_name=None, params={}, page=f"{job_id}/index.html", title="", label="",
               inputs=inputs, definition=definition)


def test_jobs_of_one_force_and_definition_run_together_biggest_group_first(tmp_path):
    for name, size in {"a1": 10, "a2": 30, "b1": 25, "b2": 24, "c1": 1}.items():
        (tmp_path / name).write_bytes(b"x" * size)
    jobs = [_job("a1", "A", ["a1"]), _job("b1", "B", ["b1"]), _job("a2", "A", ["a2"]), _job("b2", "B", ["b2"]),
            _job("b1-d2", "B", ["b1"], "d2"), _job("all", None, ["c1", "missing"]), _job("a1-nb2", "A", ["a1"])]
    order = [j.job_id for j in job_order(jobs, tmp_path)]
    # the dataset page first; then force A (10 + 30 + 10 bytes), force B with d1 (49), force B with d2 (25);
    # within a group the biggest first, ties in the order planned
    assert order == ["all", "a2", "a1", "a1-nb2", "b1", "b2", "b1-d2"]
    assert sorted(order) == sorted(j.job_id for j in jobs)  # every job once
