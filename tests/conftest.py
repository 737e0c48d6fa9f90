import pytest


def pytest_collection_modifyitems(config, items):
    _skip_llm_doctests_without_openai(items)
    # Doctests in the minigrid modules need the extra; skip them cleanly where it is absent.
    try:
        import minigrid  # noqa: F401
    except ImportError:
        skip = pytest.mark.skip(reason='needs pip install "sparsegym[minigrid]"')
        for item in items:
            if "minigrid" in item.nodeid or "wrappers/text.py" in item.nodeid:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray (2 CPUs) for the whole test session, shut down at its end. Ray is not restarted
    within a process: a second ``ray.init`` after ``ray.shutdown`` is where Ray's native threads are
    known to crash the interpreter (ray-project/ray#31145), so every test that needs Ray shares this one."""
    import os

    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # as the evaluator's and the trainer's Ray backends do
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Games and indexes the tests make go to a cache of this test session, not the user's
    (set SPARSEGYM_TEST_CACHE to reuse one between sessions)."""
    import os

    old = os.environ.get("SPARSEGYM_CACHE")
    os.environ["SPARSEGYM_CACHE"] = os.environ.get("SPARSEGYM_TEST_CACHE") or str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("SPARSEGYM_CACHE", None)
    else:
        os.environ["SPARSEGYM_CACHE"] = old


def _skip_llm_doctests_without_openai(items) -> None:
    """The sparsegym.llm docstring examples make clients: they need the `llm` extra (openai)."""
    import importlib.util

    if importlib.util.find_spec("openai") is None:  # found without importing it (a 2 s import)
        skip = pytest.mark.skip(reason='needs pip install "sparsegym[llm]"')
        for item in items:
            if any(name in item.nodeid for name in ("sparsegym/llm/__init__.py", "sparsegym/llm/client.py")):
                item.add_marker(skip)
