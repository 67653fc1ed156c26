# Shared fixtures: the small lesson bank, the local generator, permissions, a learner client.
from tests.lessons.conftest import bank, generator, grant, learner_client  # noqa: F401
