"""Statement documents and credentials for the learning record store's tests."""

import uuid

import factory

from analytics.services import xapi_credential_create


class AgentFactory(factory.DictFactory):
    objectType = "Agent"
    name = factory.Sequence(lambda n: f"Learner {n}")
    mbox = factory.Sequence(lambda n: f"mailto:learner{n}@example.com")


class VerbFactory(factory.DictFactory):
    id = "http://adlnet.gov/expapi/verbs/completed"
    display = factory.Dict({"en-US": "completed"})


class ActivityFactory(factory.DictFactory):
    objectType = "Activity"
    id = factory.Sequence(lambda n: f"https://lessons.example.com/activities/{n}")
    definition = factory.Dict(
        {"name": {"en-US": "A lesson"}, "type": "http://adlnet.gov/expapi/activities/lesson"}
    )


class StatementFactory(factory.DictFactory):
    id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    actor = factory.SubFactory(AgentFactory)
    verb = factory.SubFactory(VerbFactory)
    object = factory.SubFactory(ActivityFactory)
    timestamp = "2026-11-01T09:30:00.000Z"


def credential(**kwargs):
    """(credential, secret) issued the way the admin issues them; scope `all` unless the
    test gives scopes (tests/security covers what narrower scopes refuse)."""
    kwargs.setdefault("scopes", ["all"])
    issued = xapi_credential_create(name=kwargs.pop("name", "LMS"), **kwargs)
    return issued.credential, issued.secret
