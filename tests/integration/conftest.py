import pytest

from shared.messaging import EventPublisher


@pytest.fixture(scope="module")
def publish(amqp_uri):
    """Publish an event to the test virtual host as a service's outbox would."""
    return EventPublisher(amqp_uri).publish
