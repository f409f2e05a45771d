"""Jobs handed to the local pool force by force (executors.ForceQueue)."""

from svtools.publish.executors import ForceQueue
from svtools.publish.run_cache import Job


def _job(job_id, pfa, definition="d1"):
    return Job(job_id=job_id, notebook="nb.ipynb", name="nb", level="csp", area_code=None, area_name="",
               pfa_code=pfa, pfa_name=None, params={}, page=f"{job_id}/index.html", title="", label="",
               definition=definition)


def test_each_worker_keeps_its_force_then_takes_a_fresh_one_then_helps():
    todo = [_job("a1", "A"), _job("a2", "A"), _job("a3", "A"), _job("a4", "A"), _job("b1", "B"), _job("c1", "C"),
            _job("c2", "C")]
    q = ForceQueue(todo)
    w1, w2 = q.next(None), q.next(None)  # two workers start on different forces
    assert (w1.job_id, w2.job_id) == ("a1", "b1")
    w2 = q.next(w2)  # B is done: the next force nobody has started
    assert w2.job_id == "c1"
    w1 = q.next(w1)
    assert w1.job_id == "a2"
    w2 = q.next(w2)
    assert w2.job_id == "c2"
    w2 = q.next(w2)  # nothing fresh left: help with the force that has the most jobs left
    assert w2.job_id == "a3"
    assert q.next(w1).job_id == "a4"
    assert q.next(w2) is None


def test_every_job_is_handed_out_once():
    todo = [_job(f"{f}{i}", f, d) for f in "ABCDE" for d in ("d1", "d2") for i in range(3)]
    q = ForceQueue(todo)
    got, last = [], [None, None, None]
    while True:
        progressed = False
        for w in range(3):
            job = q.next(last[w])
            if job is not None:
                got.append(job.job_id)
                last[w] = job
                progressed = True
        if not progressed:
            break
    assert sorted(got) == sorted(j.job_id for j in todo)
