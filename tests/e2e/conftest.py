import pytest

from tests.platform import SHORT_DIGEST_MINUTES, running_platform


@pytest.fixture(scope="session")
def platform(tmp_path_factory):
    with running_platform(
        tmp_path_factory.mktemp("var"), SUGGESTION_DIGEST_MINUTES=SHORT_DIGEST_MINUTES
    ) as running:
        yield running
