import pytest

from tests.platform import running_platform


@pytest.fixture(scope="session")
def platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("var")) as running:
        yield running
