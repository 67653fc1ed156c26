"""
Pure functions over statement documents: identifiers, the references the filters use,
comparison the specification's way, and the `ids`/`canonical` response formats.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC
from typing import Any

from analytics.validation import XAPI_1_0, XAPI_2_0, has_zone, parse_timestamp


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def loads_strict(raw: bytes | str) -> Any:
    """JSON as xAPI reads it: NaN and Infinity are not JSON. Raises ValueError (or
    UnicodeDecodeError) for the caller to turn into its own 400."""
    return json.loads(raw, parse_constant=_refuse_constant)


_IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")


def agent_key(agent: dict[str, Any]) -> str:
    """The inverse functional identifier as one string ('' for an anonymous Group)."""
    if "mbox" in agent:
        return f"mbox:{agent['mbox']}"
    if "mbox_sha1sum" in agent:
        return f"mbox_sha1sum:{agent['mbox_sha1sum'].lower()}"
    if "openid" in agent:
        return f"openid:{agent['openid']}"
    if "account" in agent:
        return f"account:{agent['account']['homePage']}|{agent['account']['name']}"
    return ""


def _agents_in(agent: dict[str, Any]) -> list[str]:
    """An agent's own key, and for a Group its members' keys too."""
    keys = [agent_key(agent)]
    keys += [agent_key(member) for member in agent.get("member", [])]
    return [key for key in keys if key]


def object_reference(obj: dict[str, Any]) -> tuple[str, str]:
    """(objectType, identifier) of a statement's object."""
    object_type = obj.get("objectType", "Activity")
    if object_type in ("Agent", "Group"):
        return object_type, agent_key(obj)
    if object_type == "SubStatement":
        return object_type, ""
    return object_type, obj["id"] if object_type == "Activity" else obj["id"].lower()


def _context_activity_ids(context: dict[str, Any]) -> list[str]:
    ids = []
    for items in context.get("contextActivities", {}).values():
        for activity in items if isinstance(items, list) else [items]:
            ids.append(activity["id"])
    return ids


def statement_refs(statement: dict[str, Any]) -> dict[str, list[str]]:
    """
    Who and what a statement is about, for the filters of the Statement Resource:
    `agent` matches the actor or an Agent/Group object; `related_agents` adds authority,
    instructor, team and the same inside a SubStatement. `activity` matches the Activity
    object; `related_activities` adds context activities and the SubStatement's.
    """
    agents = _agents_in(statement["actor"])
    activities: list[str] = []
    related_agents: list[str] = []
    related_activities: list[str] = []
    obj = statement["object"]
    object_type = obj.get("objectType", "Activity")
    if object_type == "Activity":
        activities.append(obj["id"])
    elif object_type in ("Agent", "Group"):
        agents += _agents_in(obj)
    elif object_type == "SubStatement":
        inner = statement_refs(obj)
        related_agents += inner["related_agents"]
        related_activities += inner["related_activities"]
    context = statement.get("context", {})
    for role in ("instructor", "team"):
        if role in context:
            related_agents += _agents_in(context[role])
    if "authority" in statement:
        related_agents += _agents_in(statement["authority"])
    related_activities += _context_activity_ids(context)
    return {
        "agents": sorted(set(agents)),
        "related_agents": sorted(set(agents + related_agents)),
        "activities": sorted(set(activities)),
        "related_activities": sorted(set(activities + related_activities)),
    }


def normalize_context_activities(statement: dict[str, Any]) -> None:
    """A single context activity object is stored as a one-item array (xAPI 1.0.3 §2.4.6.2)."""
    for holder in (statement, statement.get("object", {})):
        context_activities = holder.get("context", {}).get("contextActivities")
        if context_activities:
            for key, items in list(context_activities.items()):
                if isinstance(items, dict):
                    context_activities[key] = [items]


# --- comparison -------------------------------------------------------------------------

_NOT_AUTHORED = ("id", "stored", "authority", "version")
_DURATION_SECONDS = re.compile(r"(\d+)(?:[.,](\d*))?S$")


def _duration_hundredths(match: re.Match) -> str:
    fraction = (match.group(2) or "")[:2].rstrip("0")
    return f"{match.group(1)}.{fraction}S" if fraction else f"{match.group(1)}S"


def _normal(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _normal(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_normal(v) for v in value]
        # Order carries meaning in interaction components and patterns, not in these.
        if key in ("member", "parent", "grouping", "category", "other"):
            items.sort(key=repr)
        return items
    if isinstance(value, str):
        if key in ("timestamp",):
            return parse_timestamp(value, key).astimezone(UTC).isoformat(timespec="milliseconds")
        if key == "duration":
            # Durations compare to 0.01 s; finer precision is not compared (Data §4.6).
            return _DURATION_SECONDS.sub(_duration_hundredths, value)
        if key in ("registration", "mbox_sha1sum"):
            return value.lower()
        if key == "objectType":
            return value
    return value


def comparable(statement: dict[str, Any]) -> dict[str, Any]:
    """Drop what the store, not the author, supplied; normalise case and time formats."""
    document = {k: v for k, v in statement.items() if k not in _NOT_AUTHORED}
    document = copy.deepcopy(document)
    normalize_context_activities(document)
    obj = document.get("object", {})
    if obj.get("objectType") == "StatementRef":
        obj["id"] = obj["id"].lower()
    if obj.get("objectType", "Activity") == "Activity":
        obj.pop("objectType", None)
    if document.get("actor", {}).get("objectType") == "Agent":
        document["actor"] = {k: v for k, v in document["actor"].items() if k != "objectType"}
    return _normal(document)


def same_statement(first: dict[str, Any], second: dict[str, Any]) -> bool:
    return comparable(first) == comparable(second)


# --- response formats -------------------------------------------------------------------


def _ids_agent(agent: dict[str, Any]) -> dict[str, Any]:
    reduced = {k: agent[k] for k in ("objectType", *_IFI_KEYS) if k in agent}
    if "member" in agent and not any(k in agent for k in _IFI_KEYS):
        reduced["member"] = [_ids_agent(m) for m in agent["member"]]
    return reduced


def _ids_object(obj: dict[str, Any]) -> dict[str, Any]:
    object_type = obj.get("objectType", "Activity")
    if object_type in ("Agent", "Group"):
        return _ids_agent(obj)
    if object_type == "SubStatement":
        return _ids_statement(obj)
    if object_type == "Activity":
        # An Activity's id is all that identifies it (objectType defaults to Activity).
        return {"id": obj["id"]}
    return {"objectType": object_type, "id": obj["id"]}


def _ids_statement(statement: dict[str, Any]) -> dict[str, Any]:
    out = dict(statement)
    out["actor"] = _ids_agent(statement["actor"])
    out["verb"] = {"id": statement["verb"]["id"]}
    out["object"] = _ids_object(statement["object"])
    if "authority" in statement:
        out["authority"] = _ids_agent(statement["authority"])
    context = statement.get("context")
    if context:
        context = dict(context)
        for role in ("instructor", "team"):
            if role in context:
                context[role] = _ids_agent(context[role])
        # xAPI 2.0's context roles: their agents and groups reduced the same way.
        for key, role in (("contextAgents", "agent"), ("contextGroups", "group")):
            if key in context:
                context[key] = [{**entry, role: _ids_agent(entry[role])} for entry in context[key]]
        if "contextActivities" in context:
            context["contextActivities"] = {
                key: [{"id": a["id"]} for a in items]
                for key, items in context["contextActivities"].items()
            }
        out["context"] = context
    return out


def _pick_language(language_map: dict[str, str], languages: list[str]) -> dict[str, str]:
    """The entry for the most preferred language: an exact tag first (en-GB), else one of
    the same primary language (en, en-US), else `und`, else the first."""
    for wanted in languages:
        for tag, text in language_map.items():
            if tag.lower() == wanted:
                return {tag: text}
        primary = wanted.split("-")[0]
        for tag, text in language_map.items():
            if tag.lower().split("-")[0] == primary:
                return {tag: text}
    if "und" in language_map:
        return {"und": language_map["und"]}
    tag = next(iter(language_map), None)
    return {tag: language_map[tag]} if tag else {}


_LANGUAGE_MAP_KEYS = {"display", "name", "description"}


def _canonical(value: Any, languages: list[str], key: str = "") -> Any:
    if isinstance(value, dict):
        if key in _LANGUAGE_MAP_KEYS and all(isinstance(v, str) for v in value.values()):
            return _pick_language(value, languages)
        return {k: _canonical(v, languages, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v, languages) for v in value]
    return value


# --- reading across versions -------------------------------------------------------------

_CONTEXT_ROLES_2_0 = ("contextAgents", "contextGroups")


def _for_1_0(statement: dict[str, Any]) -> dict[str, Any]:
    """A statement as xAPI 1.0.3 has it: without 2.0's context roles (in the statement and
    its SubStatement), and with a 1.0.x version."""
    out = statement
    for holder in ("", "object"):
        body = out if not holder else out.get("object")
        if not isinstance(body, dict):
            continue
        context = body.get("context")
        if context and any(role in context for role in _CONTEXT_ROLES_2_0):
            trimmed = {k: v for k, v in context.items() if k not in _CONTEXT_ROLES_2_0}
            body = {k: v for k, v in body.items() if k != "context"}
            if trimmed:
                body["context"] = trimmed
            out = {**out, "object": body} if holder else body
    if not str(out.get("version", "1.0.0")).startswith("1.0"):
        out = {**out, "version": "1.0.0"}
    return out


def _for_2_0(statement: dict[str, Any]) -> dict[str, Any]:
    """A statement as xAPI 2.0 has it: a timestamp stored without a time zone (1.0.3 took
    it as UTC) says so."""
    out = statement
    if "timestamp" in out and not has_zone(out["timestamp"]):
        out = {**out, "timestamp": out["timestamp"] + "Z"}
    obj = out.get("object")
    if isinstance(obj, dict) and "timestamp" in obj and not has_zone(obj["timestamp"]):
        out = {**out, "object": {**obj, "timestamp": obj["timestamp"] + "Z"}}
    return out


def for_version(statement: dict[str, Any], version: str) -> dict[str, Any]:
    """`statement` valid for a reader of xAPI `version`, whichever version stored it (the
    stored document is left as it is; a statement needing no change is returned itself)."""
    return _for_2_0(statement) if version == XAPI_2_0 else _for_1_0(statement)


def format_statement(
    statement: dict[str, Any],
    *,
    format: str,
    languages: list[str] | None = None,
    version: str = XAPI_1_0,
) -> dict[str, Any]:
    """`exact` as stored, `ids` reduced to identifiers, `canonical` one language per map;
    each as a reader of xAPI `version` may read it (`for_version`)."""
    statement = for_version(statement, version)
    if format == "ids":
        return _ids_statement(statement)
    if format == "canonical":
        return _canonical(statement, [lang.lower() for lang in languages or []])
    return statement
