"""Rendering workers inside a joblib (loky) worker — where Hydra's joblib launcher runs each sweep job.

There the global start method is "loky", which the rendering pool's children used to
inherit and could not find: each died at start, the pool replaced it, and the render
waited forever.
"""
import pytest
from joblib import Parallel, delayed

pytestmark = pytest.mark.slow  # starts two process pools


def test_parallel_map_inside_a_loky_worker_finishes():
    def job(i):  # defined here: sent to the worker by value
        import multiprocessing as mp

        from reidfw.synthetic.generators.parallel import parallel_map

        return i, parallel_map(abs, list(range(-6, 0)), workers=2), mp.get_start_method()

    try:
        results = Parallel(n_jobs=2, backend="loky", timeout=120)(delayed(job)(i) for i in range(2))
    except Exception as e:  # joblib's TimeoutError: the hang this test guards against
        pytest.fail(f"rendering inside a loky worker did not finish: {e!r}")
    assert results == [(i, [6, 5, 4, 3, 2, 1], "loky") for i in range(2)]
