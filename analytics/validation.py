"""
Statement validation per xAPI 1.0.3 (Data, §2.4 "Statement Properties") and xAPI 2.0
(IEEE 9274.1.1), chosen by the request's version.

`validate_statement()` is pure: it raises StatementInvalidError with the JSON path of the
first problem, or returns nothing. It does not touch the database; rules that need stored
statements (conflicts, voiding a voiding statement) live in services.

What 2.0 changes here: `context.contextAgents` and `context.contextGroups`, statement
`version` 1.0.x or 2.0.x, and timestamps that must carry a time zone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils.dateparse import parse_datetime

from analytics.errors import StatementInvalidError

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"
XAPI_1_0 = "1.0.3"
XAPI_2_0 = "2.0.0"
# Newest first: the About resource lists them so.
SUPPORTED_VERSIONS = (XAPI_2_0, XAPI_1_0)
# What a request's X-Experience-API-Version resolves to: the family's version this store
# speaks, answered in the response's header.
_VERSION_FAMILIES = (
    (re.compile(r"^1\.0(\.\d+)?$"), XAPI_1_0),
    (re.compile(r"^2\.0(\.\d+)?$"), XAPI_2_0),
)
_STATEMENT_VERSION = {
    XAPI_1_0: re.compile(r"^1\.0(\.\d+)?$"),
    XAPI_2_0: re.compile(r"^[12]\.0(\.\d+)?$"),
}

_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
_MBOX = re.compile(r"^mailto:[^@\s]+@[^@\s]+$")
# RFC 5646 language tags, simplified: language (2-3 or 4-8 letters) plus subtags, or a
# private use tag; "und" is a valid language.
_LANGUAGE_TAG = re.compile(
    r"^(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})(?:-[A-Za-z]{4})?"
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*(?:-[xX](?:-[A-Za-z0-9]{1,8})+)?$"
    r"|^[xX](?:-[A-Za-z0-9]{1,8})+$"
)
_NUMBER = r"\d+(?:[.,]\d+)?"
# ISO 8601 durations: PnYnMnDTnHnMnS, or weeks alone (PnW: weeks combine with no other unit).
_DURATION = re.compile(
    rf"^P(?!$)(?:{_NUMBER}W|(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}D)?"
    rf"(?:T(?=\d)(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?)$"
)
_DURATION_PARTS = re.compile(
    rf"^P(?:(?P<Y>{_NUMBER})Y)?(?:(?P<MO>{_NUMBER})M)?(?:(?P<W>{_NUMBER})W)?(?:(?P<D>{_NUMBER})D)?"
    rf"(?:T(?:(?P<H>{_NUMBER})H)?(?:(?P<MI>{_NUMBER})M)?(?:(?P<S>{_NUMBER})S)?)?$"
)
_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_ZONE = re.compile(r"(?:Z|z|[+-]\d{2}(?::?\d{2})?)$")

INTERACTION_TYPES = {
    "true-false",
    "choice",
    "fill-in",
    "long-fill-in",
    "matching",
    "performance",
    "sequencing",
    "likert",
    "numeric",
    "other",
}
_INTERACTION_COMPONENT_LISTS = {"choices", "scale", "source", "target", "steps"}
# Which interaction component lists go with which interaction types (Data §2.4.4.1).
_COMPONENTS_BY_INTERACTION = {
    "choices": {"choice", "sequencing"},
    "scale": {"likert"},
    "source": {"matching"},
    "target": {"matching"},
    "steps": {"performance"},
}
_CONTEXT_ACTIVITY_KEYS = frozenset({"parent", "grouping", "category", "other"})


def resolve_version(header: str | None) -> str | None:
    """The version a request's X-Experience-API-Version asks for (1.0.x → 1.0.3, 2.0.x →
    2.0.0), or None when it names none this store speaks."""
    value = (header or "").strip()
    for pattern, version in _VERSION_FAMILIES:
        if pattern.match(value):
            return version
    return None


def _fail(path: str, reason: str) -> None:
    raise StatementInvalidError(f"{path}: {reason}", path=path)


def _object(
    value: Any, path: str, allowed: frozenset[str], required: frozenset[str] = frozenset()
) -> dict:
    if not isinstance(value, dict):
        _fail(path, "must be a JSON object")
    # Set operations first (every object of every statement comes through here); the loops
    # only run to name the first offender, in document order.
    if not allowed.issuperset(value) or None in value.values():
        for key, item in value.items():
            if key not in allowed:
                _fail(f"{path}.{key}", "is not a property defined here by xAPI")
            if item is None:
                _fail(f"{path}.{key}", "must not be null")
    if not required.issubset(value):
        for key in sorted(required):
            if key not in value:
                _fail(f"{path}.{key}", "is required")
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        _fail(path, "must be a string")
    return value


def _iri(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _IRI.match(value):
        _fail(path, "must be an absolute IRI")
    return value


def _uuid(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _UUID.match(value):
        _fail(path, "must be a UUID")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        _fail(path, "must be true or false")
    return value


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(path, "must be a number")
    return value


def _language_map(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        _fail(path, "must be a language map")
    for tag, text in value.items():
        if not _LANGUAGE_TAG.match(tag):
            _fail(f"{path}.{tag}", "is not an RFC 5646 language tag")
        if not isinstance(text, str):
            _fail(f"{path}.{tag}", "must be a string")


def _extensions(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        _fail(path, "must be an object")
    for key in value:
        _iri(key, f"{path}.{key}")


def has_zone(value: str) -> bool:
    return _ZONE.search(value) is not None


def parse_timestamp(value: Any, path: str, *, zoned: bool = False) -> datetime:
    """An ISO 8601 timestamp; one without a time zone is UTC, unless `zoned` (xAPI 2.0
    statements) refuses it."""
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        _fail(path, "must be an ISO 8601 timestamp")
    if zoned and not has_zone(value):
        _fail(path, "must carry a time zone (Z or an offset)")
    if value.endswith("-00:00") or value.endswith("-0000") or value.endswith("-00"):
        _fail(path, "must not use the -00:00 offset")
    try:
        parsed = parse_datetime(value.replace("z", "Z"))
    except ValueError:
        parsed = None
    if parsed is None:
        _fail(path, "must be an ISO 8601 timestamp")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def parse_duration(value: str) -> timedelta:
    """ISO 8601 duration → timedelta (years 365 days, months 30): for the flat table."""
    match = _DURATION_PARTS.match(value)
    if not match:
        raise ValueError(value)
    parts = {k: float(v.replace(",", ".")) for k, v in match.groupdict().items() if v}
    return timedelta(
        days=parts.get("Y", 0) * 365
        + parts.get("MO", 0) * 30
        + parts.get("W", 0) * 7
        + parts.get("D", 0),
        hours=parts.get("H", 0),
        minutes=parts.get("MI", 0),
        seconds=parts.get("S", 0),
    )


# --- agents -----------------------------------------------------------------------------

_IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")
# The properties each kind of object may have (xAPI 1.0.3 Data §2.4), and those it must.
_ACCOUNT_KEYS = frozenset({"homePage", "name"})
_AGENT_KEYS = frozenset({"objectType", "name", *_IFI_KEYS})
_GROUP_KEYS = frozenset({"objectType", "name", "member", *_IFI_KEYS})
_OBJECT_TYPE = frozenset({"objectType"})
_VERB_KEYS = frozenset({"id", "display"})
_ID = frozenset({"id"})
_COMPONENT_KEYS = frozenset({"id", "description"})
_ACTIVITY_KEYS = frozenset({"objectType", "id", "definition"})
_STATEMENT_REF_KEYS = frozenset({"objectType", "id"})
_RESULT_KEYS = frozenset({"score", "success", "completion", "response", "duration", "extensions"})
_SCORE_KEYS = frozenset({"scaled", "raw", "min", "max"})
_CONTEXT_KEYS = frozenset(
    {
        "registration",
        "instructor",
        "team",
        "contextActivities",
        "revision",
        "platform",
        "language",
        "statement",
        "extensions",
    }
)
# xAPI 2.0 adds agents and groups in context roles (Data §2.4.6: contextAgents, contextGroups).
_CONTEXT_KEYS_2_0 = _CONTEXT_KEYS | {"contextAgents", "contextGroups"}
_CONTEXT_AGENT_KEYS = frozenset({"objectType", "agent", "relevantTypes"})
_CONTEXT_GROUP_KEYS = frozenset({"objectType", "group", "relevantTypes"})
_ATTACHMENT_KEYS = frozenset(
    {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}
)
_ATTACHMENT_REQUIRED = frozenset({"usageType", "display", "contentType", "length", "sha2"})


def _ifi(value: dict, path: str) -> list[str]:
    present = [key for key in _IFI_KEYS if key in value]
    for key in present:
        item = value[key]
        if key == "mbox":
            if not isinstance(item, str) or not _MBOX.match(item):
                _fail(f"{path}.mbox", "must be a mailto: IRI")
        elif key == "mbox_sha1sum":
            if not isinstance(item, str) or not _SHA1.match(item):
                _fail(f"{path}.mbox_sha1sum", "must be a hex SHA1 of a mailto: IRI")
        elif key == "openid":
            _iri(item, f"{path}.openid")
        else:
            account = _object(item, f"{path}.account", _ACCOUNT_KEYS, _ACCOUNT_KEYS)
            _iri(account["homePage"], f"{path}.account.homePage")
            _string(account["name"], f"{path}.account.name")
    return present


def validate_agent(value: Any, path: str, *, object_type_required: bool = False) -> None:
    """An Agent or a Group (objectType "Group"), each identified by exactly one IFI."""
    if isinstance(value, dict) and value.get("objectType") == "Group":
        _validate_group(value, path)
        return
    agent = _object(value, path, _AGENT_KEYS)
    if object_type_required and "objectType" not in agent:
        _fail(f"{path}.objectType", "is required here")
    if "objectType" in agent and agent["objectType"] != "Agent":
        _fail(f"{path}.objectType", "must be 'Agent' or 'Group'")
    if "name" in agent:
        _string(agent["name"], f"{path}.name")
    if len(_ifi(agent, path)) != 1:
        _fail(path, "an Agent needs exactly one of mbox, mbox_sha1sum, openid, account")


def _validate_group(value: dict, path: str) -> None:
    group = _object(value, path, _GROUP_KEYS, _OBJECT_TYPE)
    if "name" in group:
        _string(group["name"], f"{path}.name")
    ifis = _ifi(group, path)
    if len(ifis) > 1:
        _fail(path, "a Group has at most one inverse functional identifier")
    if "member" in group:
        if not isinstance(group["member"], list):
            _fail(f"{path}.member", "must be an array of Agents")
        for index, member in enumerate(group["member"]):
            if isinstance(member, dict) and member.get("objectType") == "Group":
                _fail(f"{path}.member[{index}]", "a Group's members must be Agents")
            validate_agent(member, f"{path}.member[{index}]")
    if not ifis and not group.get("member"):
        _fail(f"{path}.member", "an anonymous Group must list its members")


def _validate_authority(value: Any, path: str) -> None:
    """An Agent, or (three-legged OAuth, Data §2.4.9) an anonymous Group of exactly two
    Agents, the OAuth consumer (identified by an account) and the user."""
    validate_agent(value, path)
    if value.get("objectType") != "Group":
        return
    if any(key in value for key in _IFI_KEYS):
        _fail(path, "an authority Group must be anonymous (the OAuth consumer and its user)")
    members = value.get("member", [])
    if len(members) != 2:
        _fail(f"{path}.member", "an authority Group has exactly two members")
    if not any("account" in member for member in members):
        _fail(f"{path}.member", "one member must be the OAuth consumer, an Agent with an account")


# --- verb, object -----------------------------------------------------------------------


def _validate_verb(value: Any, path: str) -> str:
    verb = _object(value, path, _VERB_KEYS, _ID)
    _iri(verb["id"], f"{path}.id")
    if "display" in verb:
        _language_map(verb["display"], f"{path}.display")
    return verb["id"]


def _validate_interaction_components(value: Any, path: str) -> None:
    if not isinstance(value, list):
        _fail(path, "must be an array of interaction components")
    seen: set[str] = set()
    for index, component in enumerate(value):
        item = _object(component, f"{path}[{index}]", _COMPONENT_KEYS, _ID)
        component_id = _string(item["id"], f"{path}[{index}].id")
        if component_id in seen:
            _fail(f"{path}[{index}].id", "must be unique within the list")
        seen.add(component_id)
        if "description" in item:
            _language_map(item["description"], f"{path}[{index}].description")


_DEFINITION_KEYS = frozenset(
    {
        "name",
        "description",
        "type",
        "moreInfo",
        "extensions",
        "interactionType",
        "correctResponsesPattern",
        *_INTERACTION_COMPONENT_LISTS,
    }
)


def _validate_activity_definition(value: Any, path: str) -> None:
    definition = _object(value, path, _DEFINITION_KEYS)
    for key in ("name", "description"):
        if key in definition:
            _language_map(definition[key], f"{path}.{key}")
    for key in ("type", "moreInfo"):
        if key in definition:
            _iri(definition[key], f"{path}.{key}")
    if "extensions" in definition:
        _extensions(definition["extensions"], f"{path}.extensions")
    interaction = definition.get("interactionType")
    if interaction is not None and (
        not isinstance(interaction, str) or interaction not in INTERACTION_TYPES
    ):
        _fail(f"{path}.interactionType", f"must be one of {sorted(INTERACTION_TYPES)}")
    if "correctResponsesPattern" in definition:
        if interaction is None:
            _fail(f"{path}.correctResponsesPattern", "needs an interactionType")
        pattern = definition["correctResponsesPattern"]
        if not isinstance(pattern, list) or not all(isinstance(p, str) for p in pattern):
            _fail(f"{path}.correctResponsesPattern", "must be an array of strings")
    for key in sorted(_INTERACTION_COMPONENT_LISTS & definition.keys()):
        if interaction is None:
            _fail(f"{path}.{key}", "needs an interactionType")
        if interaction not in _COMPONENTS_BY_INTERACTION[key]:
            _fail(f"{path}.{key}", f"is not used with interactionType {interaction!r}")
        _validate_interaction_components(definition[key], f"{path}.{key}")


def validate_activity(value: Any, path: str) -> str:
    activity = _object(value, path, _ACTIVITY_KEYS, _ID)
    if activity.get("objectType", "Activity") != "Activity":
        _fail(f"{path}.objectType", "must be 'Activity'")
    _iri(activity["id"], f"{path}.id")
    if "definition" in activity:
        _validate_activity_definition(activity["definition"], f"{path}.definition")
    return activity["id"]


def _validate_object(value: Any, path: str, *, in_substatement: bool, version: str) -> str:
    if not isinstance(value, dict):
        _fail(path, "must be a JSON object")
    object_type = value.get("objectType", "Activity")
    if object_type == "Activity":
        validate_activity(value, path)
    elif object_type in ("Agent", "Group"):
        validate_agent(value, path, object_type_required=True)
    elif object_type == "StatementRef":
        ref = _object(value, path, _STATEMENT_REF_KEYS, _STATEMENT_REF_KEYS)
        _uuid(ref["id"], f"{path}.id")
    elif object_type == "SubStatement":
        if in_substatement:
            _fail(path, "a SubStatement cannot contain a SubStatement")
        _validate_statement_body(
            value, path, allowed=_SUBSTATEMENT_KEYS, in_substatement=True, version=version
        )
    else:
        _fail(f"{path}.objectType", "must be Activity, Agent, Group, StatementRef or SubStatement")
    return object_type


# --- result, context, attachments -------------------------------------------------------


def _validate_result(value: Any, path: str) -> None:
    result = _object(value, path, _RESULT_KEYS)
    if "score" in result:
        score = _object(result["score"], f"{path}.score", _SCORE_KEYS)
        for key in score:
            _number(score[key], f"{path}.score.{key}")
        if "scaled" in score and not -1 <= score["scaled"] <= 1:
            _fail(f"{path}.score.scaled", "must be between -1 and 1")
        low, high, raw = score.get("min"), score.get("max"), score.get("raw")
        if low is not None and high is not None and not low < high:
            _fail(f"{path}.score.max", "must be greater than min")
        if raw is not None and low is not None and raw < low:
            _fail(f"{path}.score.raw", "must not be below min")
        if raw is not None and high is not None and raw > high:
            _fail(f"{path}.score.raw", "must not be above max")
    for key in ("success", "completion"):
        if key in result:
            _bool(result[key], f"{path}.{key}")
    if "response" in result:
        _string(result["response"], f"{path}.response")
    duration = result.get("duration")
    if duration is not None and (not isinstance(duration, str) or not _DURATION.match(duration)):
        _fail(f"{path}.duration", "must be an ISO 8601 duration")
    if "extensions" in result:
        _extensions(result["extensions"], f"{path}.extensions")


def _validate_context_roles(context: dict, path: str) -> None:
    """xAPI 2.0's contextAgents and contextGroups: arrays of {objectType, agent|group,
    relevantTypes?}, relevantTypes a non-empty array of IRIs."""
    for key, kind, role, allowed in (
        ("contextAgents", "contextAgent", "agent", _CONTEXT_AGENT_KEYS),
        ("contextGroups", "contextGroup", "group", _CONTEXT_GROUP_KEYS),
    ):
        if key not in context:
            continue
        if not isinstance(context[key], list):
            _fail(f"{path}.{key}", f"must be an array of {kind} objects")
        for index, item in enumerate(context[key]):
            item_path = f"{path}.{key}[{index}]"
            entry = _object(item, item_path, allowed, frozenset({"objectType", role}))
            if entry["objectType"] != kind:
                _fail(f"{item_path}.objectType", f"must be '{kind}'")
            if role == "group":
                member = entry["group"]
                if not isinstance(member, dict) or member.get("objectType") != "Group":
                    _fail(f"{item_path}.group", "must be a Group")
                validate_agent(member, f"{item_path}.group")
            else:
                member = entry["agent"]
                if isinstance(member, dict) and member.get("objectType") == "Group":
                    _fail(f"{item_path}.agent", "must be an Agent")
                validate_agent(member, f"{item_path}.agent")
            if "relevantTypes" in entry:
                types = entry["relevantTypes"]
                if not isinstance(types, list) or not types:
                    _fail(f"{item_path}.relevantTypes", "must be a non-empty array of IRIs")
                for position, type_iri in enumerate(types):
                    _iri(type_iri, f"{item_path}.relevantTypes[{position}]")


def _validate_context(value: Any, path: str, *, object_type: str, version: str) -> None:
    context = _object(value, path, _CONTEXT_KEYS_2_0 if version == XAPI_2_0 else _CONTEXT_KEYS)
    if version == XAPI_2_0:
        _validate_context_roles(context, path)
    if "registration" in context:
        _uuid(context["registration"], f"{path}.registration")
    if "instructor" in context:
        validate_agent(context["instructor"], f"{path}.instructor")
    if "team" in context:
        team = context["team"]
        if not isinstance(team, dict) or team.get("objectType") != "Group":
            _fail(f"{path}.team", "must be a Group")
        validate_agent(team, f"{path}.team")
    if "contextActivities" in context:
        activities = _object(
            context["contextActivities"], f"{path}.contextActivities", _CONTEXT_ACTIVITY_KEYS
        )
        for key, items in activities.items():
            for index, activity in enumerate(items if isinstance(items, list) else [items]):
                validate_activity(activity, f"{path}.contextActivities.{key}[{index}]")
    for key in ("revision", "platform"):
        if key in context:
            _string(context[key], f"{path}.{key}")
            if object_type != "Activity":
                _fail(f"{path}.{key}", "is only allowed when the object is an Activity")
    language = context.get("language")
    if language is not None and (
        not isinstance(language, str) or not _LANGUAGE_TAG.match(language)
    ):
        _fail(f"{path}.language", "must be an RFC 5646 language tag")
    if "statement" in context:
        ref = _object(context["statement"], f"{path}.statement", _STATEMENT_REF_KEYS, _ID)
        if ref.get("objectType", "StatementRef") != "StatementRef":
            _fail(f"{path}.statement.objectType", "must be 'StatementRef'")
        _uuid(ref["id"], f"{path}.statement.id")
    if "extensions" in context:
        _extensions(context["extensions"], f"{path}.extensions")


def _validate_attachments(value: Any, path: str) -> None:
    if not isinstance(value, list):
        _fail(path, "must be an array")
    for index, attachment in enumerate(value):
        item_path = f"{path}[{index}]"
        item = _object(attachment, item_path, _ATTACHMENT_KEYS, _ATTACHMENT_REQUIRED)
        _iri(item["usageType"], f"{item_path}.usageType")
        _language_map(item["display"], f"{item_path}.display")
        if "description" in item:
            _language_map(item["description"], f"{item_path}.description")
        _string(item["contentType"], f"{item_path}.contentType")
        if isinstance(item["length"], bool) or not isinstance(item["length"], int):
            _fail(f"{item_path}.length", "must be an integer")
        _string(item["sha2"], f"{item_path}.sha2")
        # Without a fileUrl the raw bytes must come as a multipart/mixed part: the request,
        # not the statement, is checked for that (analytics.attachments).
        if "fileUrl" in item:
            _iri(item["fileUrl"], f"{item_path}.fileUrl")


# --- statement --------------------------------------------------------------------------

_SUBSTATEMENT_KEYS = frozenset(
    {"objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"}
)
_STATEMENT_KEYS = frozenset(
    {
        "id",
        "actor",
        "verb",
        "object",
        "result",
        "context",
        "timestamp",
        "stored",
        "authority",
        "version",
        "attachments",
    }
)
_STATEMENT_REQUIRED = frozenset({"actor", "verb", "object"})


def _validate_statement_body(
    value: Any, path: str, *, allowed: frozenset[str], in_substatement: bool, version: str
) -> None:
    statement = _object(value, path, allowed, _STATEMENT_REQUIRED)
    validate_agent(statement["actor"], f"{path}.actor")
    verb_id = _validate_verb(statement["verb"], f"{path}.verb")
    object_type = _validate_object(
        statement["object"], f"{path}.object", in_substatement=in_substatement, version=version
    )
    if verb_id == VOIDED_VERB and object_type != "StatementRef":
        _fail(f"{path}.object", "a voiding statement's object must be a StatementRef")
    if "result" in statement:
        _validate_result(statement["result"], f"{path}.result")
    if "context" in statement:
        _validate_context(
            statement["context"], f"{path}.context", object_type=object_type, version=version
        )
    if "timestamp" in statement:
        parse_timestamp(statement["timestamp"], f"{path}.timestamp", zoned=version == XAPI_2_0)
    if "attachments" in statement:
        _validate_attachments(statement["attachments"], f"{path}.attachments")


def validate_statement(value: Any, path: str = "statement", *, version: str = XAPI_1_0) -> None:
    """Raise StatementInvalidError unless `value` is a valid statement of xAPI `version`
    (1.0.3 or 2.0.0)."""
    _validate_statement_body(
        value, path, allowed=_STATEMENT_KEYS, in_substatement=False, version=version
    )
    if "id" in value:
        _uuid(value["id"], f"{path}.id")
    if "version" in value:
        declared = value["version"]
        if not isinstance(declared, str) or not _STATEMENT_VERSION[version].match(declared):
            _fail(
                f"{path}.version",
                "must be 1.0.x" if version == XAPI_1_0 else "must be 1.0.x or 2.0.x",
            )
    if "stored" in value:
        parse_timestamp(value["stored"], f"{path}.stored", zoned=version == XAPI_2_0)
    if "authority" in value:
        _validate_authority(value["authority"], f"{path}.authority")
