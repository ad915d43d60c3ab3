"""Keep `datasets`' cache for these tests inside the session's temp dir, not under $HOME."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _datasets_cache(tmp_path_factory):
    import datasets

    mp = pytest.MonkeyPatch()
    mp.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path_factory.mktemp("hf_datasets_cache"))
    yield
    mp.undo()
