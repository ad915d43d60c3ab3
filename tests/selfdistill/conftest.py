import pytest

from .crafted import build_crafted


@pytest.fixture(scope="module")
def crafted(tiny_data_dir, tmp_path_factory):
    return build_crafted(tiny_data_dir, tmp_path_factory.mktemp("crafted"))
