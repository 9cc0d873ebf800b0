import pytest

from tests.platform import running_platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """The platform as ``make run`` starts it, for this module alone: its logs and stores hold
    only what the module's tests did."""
    with running_platform(tmp_path_factory.mktemp("var")) as running:
        yield running
