import pytest

from tests.learners.conftest import grant, learner_client  # noqa: F401  (shared fixtures)
from tests.lessons.factories import MicrolessonFactory, PathTemplateFactory, TopicFactory


@pytest.fixture
def bank(db):
    """Two topics with two beginner lessons each and the onboarding template over them."""
    returns = TopicFactory(slug="returns-policy", title="Returns policy")
    service = TopicFactory(slug="customer-service", title="Customer service")
    lessons = {
        "returns-1": MicrolessonFactory(key="returns-1", topic=returns),
        "returns-2": MicrolessonFactory(key="returns-2", topic=returns),
        "service-1": MicrolessonFactory(key="service-1", topic=service, correct_answer=1),
        "service-2": MicrolessonFactory(key="service-2", topic=service),
    }
    template = PathTemplateFactory(topics=["returns-policy", "customer-service"])
    return {
        "topics": {"returns": returns, "service": service},
        "lessons": lessons,
        "onboarding": template,
    }


@pytest.fixture
def generator(settings):
    """A local lesson generator; LESSON_GENERATOR_URL points at it for the test."""
    from tests.lessons.generator_server import GeneratorServer

    server = GeneratorServer()
    server.start()
    settings.LESSON_GENERATOR_URL = server.url
    settings.LESSON_GENERATOR_TIMEOUT_SECONDS = 0.3
    settings.LESSON_GENERATOR_ATTEMPTS = 3
    settings.LESSON_GENERATOR_BREAKER_THRESHOLD = 2
    yield server
    server.stop()
