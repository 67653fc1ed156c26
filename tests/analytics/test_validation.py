"""xAPI 1.0.3 statement rules: each broken rule is a 400 with a reason, nothing stored."""

import copy

import pytest

from analytics.errors import StatementInvalidError
from analytics.models import Statement
from analytics.validation import validate_statement
from tests.analytics.factories import StatementFactory

SUB = {
    "objectType": "SubStatement",
    "actor": {"mbox": "mailto:a@example.com"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
    "object": {"id": "https://x.example/a"},
}


def _set(statement, path, value):
    target = statement
    keys = path.split(".")
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value


_DELETE = object()

CONSUMER = {"account": {"homePage": "https://lms.example/oauth", "name": "consumer-7"}}
USER = {"mbox": "mailto:bob@example.com"}

INVALID = [
    ("id", "not-a-uuid", "id"),
    ("actor", _DELETE, "actor"),
    ("actor.mbox", "alice@example.com", "mailto"),
    ("actor.openid", "https://id.example.com/alice", "exactly one"),
    ("actor", {"name": "nobody"}, "exactly one"),
    ("actor", {"mbox_sha1sum": "xyz"}, "SHA1"),
    ("actor", {"account": {"homePage": "https://x.example"}}, "account.name"),
    ("actor", {"account": {"homePage": "not an iri", "name": "n"}}, "homePage"),
    ("actor", {"objectType": "Group"}, "members"),
    (
        "actor",
        {"objectType": "Group", "member": [{"objectType": "Group", "mbox": "mailto:g@x.y"}]},
        "Agents",
    ),
    ("actor", {"objectType": "Robot", "mbox": "mailto:r@x.y"}, "objectType"),
    ("verb", _DELETE, "verb"),
    ("verb.id", "completed", "IRI"),
    ("verb.display", {"en_US": "done"}, "language tag"),
    ("verb.display", {"en-US": 3}, "string"),
    ("object.id", "has spaces in it", "IRI"),
    ("object.objectType", "Thing", "objectType"),
    ("object", {"objectType": "StatementRef", "id": "nope"}, "UUID"),
    ("object", {"objectType": "Agent", "name": "no ifi"}, "exactly one"),
    ("object", {**SUB, "object": SUB}, "SubStatement"),
    ("object", {**SUB, "id": "9b3f6f5a-4e8c-4a77-8d0c-3c8f5e2b1a10"}, "not a property"),
    ("object.definition.interactionType", "essay", "interactionType"),
    ("object.definition.choices", [{"id": "a"}], "interactionType"),
    ("object.definition.interactionType", {"choice": True}, "interactionType"),
    ("object.definition.interactionType", ["choice"], "interactionType"),
    ("object.definition.interactionType", 1, "interactionType"),
    ("object.definition.name", "A lesson", "language map"),
    (
        "object.definition",
        {"interactionType": "likert", "choices": [{"id": "a"}]},
        "not used with interactionType",
    ),
    (
        "object.definition",
        {"interactionType": "choice", "choices": [{"id": "a"}, {"id": "a"}]},
        "unique",
    ),
    ("result.score", {"scaled": 1.5}, "between -1 and 1"),
    ("result.score", {"raw": 11, "min": 0, "max": 10}, "above max"),
    ("result.score", {"raw": -1, "min": 0, "max": 10}, "below min"),
    ("result.score", {"min": 5, "max": 5}, "greater than min"),
    ("result.success", "yes", "true or false"),
    ("result.completion", 1, "true or false"),
    ("result.duration", "90 seconds", "duration"),
    ("result.duration", "PT", "duration"),
    ("result.duration", "P4W1D", "duration"),
    ("result.duration", "P1WT2H", "duration"),
    ("context.registration", "abc", "UUID"),
    ("context.contextActivities", {"siblings": [{"id": "https://x.example"}]}, "not a property"),
    ("context.language", "english please", "language tag"),
    ("timestamp", "yesterday", "ISO 8601"),
    ("timestamp", "2026-13-45T99:99:99Z", "ISO 8601"),
    ("timestamp", "2026-11-01T09:30:00-00:00", "-00:00"),
    ("version", "2.0.0", "1.0.x"),
    ("colour", "blue", "not a property"),
    ("result.response", None, "null"),
    ("attachments", [{"usageType": "http://x.example/u"}], "is required"),
    ("authority", {"objectType": "Group", "member": [USER]}, "exactly two"),
    (
        "authority",
        {"objectType": "Group", "member": [CONSUMER, USER, {"mbox": "mailto:j@example.com"}]},
        "exactly two",
    ),
    (
        "authority",
        {"objectType": "Group", "member": [USER, {"mbox": "mailto:j@example.com"}]},
        "OAuth consumer",
    ),
    (
        "authority",
        {"objectType": "Group", "mbox": "mailto:g@example.com", "member": [CONSUMER, USER]},
        "anonymous",
    ),
    (
        "authority",
        {"objectType": "Group", "openid": "http://openid.example.org/1", "member": [USER]},
        "anonymous",
    ),
    ("authority", {"objectType": "Group", "account": CONSUMER["account"]}, "anonymous"),
]


@pytest.mark.parametrize(
    ("path", "value", "reason"), INVALID, ids=[f"{i[0]}={i[1]}" for i in INVALID]
)
def test_invalid_statement_is_refused_with_a_reason(path, value, reason):
    statement = copy.deepcopy(StatementFactory())
    _set(statement, path, value)
    with pytest.raises(StatementInvalidError) as excinfo:
        validate_statement(statement)
    assert reason.lower() in excinfo.value.message.lower()


def test_platform_is_only_allowed_with_an_activity_object():
    statement = StatementFactory(
        object={"objectType": "Agent", "mbox": "mailto:b@example.com"},
        context={"platform": "LMS"},
    )
    with pytest.raises(StatementInvalidError, match="only allowed"):
        validate_statement(statement)


VALID = [
    ("actor", {"objectType": "Group", "member": [{"mbox": "mailto:m@example.com"}]}),
    ("actor", {"openid": "https://id.example.com/alice"}),
    ("actor", {"mbox_sha1sum": "a" * 40}),
    ("object", {"objectType": "StatementRef", "id": "9b3f6f5a-4e8c-4a77-8d0c-3c8f5e2b1a10"}),
    ("object", SUB),
    (
        "object.definition",
        {
            "interactionType": "choice",
            "choices": [{"id": "a", "description": {"en": "A"}}],
            "correctResponsesPattern": ["a"],
        },
    ),
    (
        "result",
        {
            "score": {"scaled": -1, "raw": 0, "min": 0, "max": 1},
            "success": True,
            "completion": False,
            "duration": "PT1M30.5S",
            "extensions": {"https://x.example/e": {"any": None}},
        },
    ),
    ("result.duration", "P1DT2H"),
    ("result.duration", "P4W"),
    (
        "context",
        {
            "registration": "9B3F6F5A-4E8C-4A77-8D0C-3C8F5E2B1A10",
            "language": "zh-Hant-TW",
            "platform": "LMS",
            "revision": "2",
            "statement": {
                "objectType": "StatementRef",
                "id": "9b3f6f5a-4e8c-4a77-8d0c-3c8f5e2b1a10",
            },
        },
    ),
    ("timestamp", "2026-11-01T09:30:00.123456+05:30"),
    ("version", "1.0.0"),
    ("authority", {"objectType": "Agent", **CONSUMER}),
    ("authority", {"objectType": "Group", "member": [CONSUMER, USER]}),
]


@pytest.mark.parametrize(("path", "value"), VALID, ids=[f"{v[0]}={v[1]}" for v in VALID])
def test_valid_variants_pass(path, value):
    statement = copy.deepcopy(StatementFactory())
    _set(statement, path, value)
    validate_statement(statement)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "value", "reason"), INVALID[:12], ids=[i[0] for i in INVALID[:12]]
)
def test_invalid_statement_over_http_is_400_and_stores_nothing(xapi, path, value, reason):
    good = StatementFactory()
    bad = copy.deepcopy(StatementFactory())
    _set(bad, path, value)
    response = xapi.post([good, bad])
    assert response.status_code == 400
    assert response.json()["message"].startswith("statements[1]")
    assert Statement.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("interaction_type", [{"en-US": "choice"}, ["choice"], None])
def test_an_interaction_type_that_is_not_a_string_is_400_not_500(xapi, interaction_type):
    # given an activity definition whose interactionType is an object, an array or null
    statement = StatementFactory()
    statement["object"]["definition"]["interactionType"] = interaction_type
    # when
    response = xapi.post(statement)
    # then
    assert response.status_code == 400
    assert "interactionType" in response.json()["message"]
    assert Statement.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("authority", "status"),
    [
        ({"objectType": "Group", "member": [CONSUMER, USER]}, 200),
        ({"objectType": "Group", "member": [USER, {"mbox": "mailto:j@example.com"}]}, 400),
        ({"objectType": "Group", "member": [CONSUMER]}, 400),
    ],
)
def test_an_authority_group_must_be_an_oauth_consumer_and_its_user(xapi, authority, status):
    # when a client sends a statement with a Group authority
    response = xapi.post(StatementFactory(authority=authority))
    # then only the consumer-and-user pair is accepted
    assert response.status_code == status
    assert Statement.objects.count() == (1 if status == 200 else 0)
