"""A warm kernel's garbage collection between notebooks (render._collect_garbage)."""

import gc

import pytest

from svtools.publish import render


class _Cycle:
    def __init__(self):
        self.me = self


@pytest.fixture
def fresh_state(monkeypatch):
    monkeypatch.setattr(render, "_KERNEL_STATE", {})
    yield
    gc.unfreeze()


def test_first_resets_collect_everything_and_freeze_the_survivors(fresh_state):
    render._collect_garbage()  # before the first notebook
    assert gc.get_freeze_count() > 0
    render._collect_garbage()  # after it: the tables it loaded are frozen too
    frozen = gc.get_freeze_count()
    render._collect_garbage()  # a young collection only: nothing more is frozen
    assert gc.get_freeze_count() == frozen


def test_a_full_collection_comes_every_so_often_and_frees_frozen_cycles(fresh_state, monkeypatch):
    monkeypatch.setattr(render, "FULL_GC_EVERY", 3)
    import weakref

    render._collect_garbage()
    render._collect_garbage()
    obj = _Cycle()
    ref = weakref.ref(obj)
    gc.freeze()  # as if the cycle had been frozen by an earlier full collection
    del obj
    render._collect_garbage()  # reset 3: young only; a frozen cycle is not seen
    assert ref() is not None
    render._collect_garbage()  # reset 4 (count 3): full, unfrozen first
    assert ref() is None
