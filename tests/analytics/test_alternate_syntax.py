"""The Alternate Request Syntax (Communication §1.3): POST ?method=… with a form body."""

import json
import uuid
from urllib.parse import urlencode

import pytest

from analytics.models import Statement
from tests.analytics.factories import StatementFactory

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


def _post(xapi, method, form, *, headers=True, query=None, content_type=FORM):
    path = "/xapi/statements?" + urlencode(query or {"method": method})
    extra = xapi.headers if headers else {}
    body = form if isinstance(form, str) else urlencode(form)
    return xapi.client.post(path, data=body, content_type=content_type, **extra)


def _form_headers(xapi):
    """The request's headers as form fields, as a browser posting a form sends them."""
    return {
        "Authorization": xapi.headers["HTTP_AUTHORIZATION"],
        "X-Experience-API-Version": "1.0.3",
    }


def test_a_get_issued_as_a_post_answers_the_statement_result(xapi):
    # given two stored statements
    xapi.post([StatementFactory(), StatementFactory()])
    # when a GET with limit=1 is issued as a POST
    response = _post(xapi, "GET", {"limit": "1"})
    # then
    assert response.status_code == 200
    body = response.json()
    assert len(body["statements"]) == 1
    assert body["more"]
    assert response["X-Experience-API-Consistent-Through"]


def test_a_put_issued_as_a_post_with_headers_as_form_fields_stores_the_statement(xapi):
    # given a statement, its id and the headers as form fields, and no headers at all
    statement = StatementFactory()
    statement_id = statement.pop("id")
    form = {"statementId": statement_id, "content": json.dumps(statement), **_form_headers(xapi)}
    # when
    response = _post(xapi, "PUT", form, headers=False)
    # then
    assert response.status_code == 204
    assert response["X-Experience-API-Version"] == "1.0.3"
    assert Statement.objects.get(pk=statement_id).data["verb"] == statement["verb"]


def test_a_post_issued_as_a_post_stores_the_batch(xapi):
    batch = [StatementFactory(), StatementFactory()]
    response = _post(xapi, "post", {"content": json.dumps(batch)})
    assert response.status_code == 200
    assert response.json() == [s["id"] for s in batch]


def test_a_form_field_header_overrides_the_request_header(xapi):
    # given a request with version 1.0.3 as a header and 0.8 as a form field
    statement = StatementFactory()
    form = {
        "statementId": statement["id"],
        "X-Experience-API-Version": "0.8",
        "content": json.dumps(statement),
    }
    # when
    response = _post(xapi, "PUT", form)
    # then the form field is the version the request is read with
    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_version"
    assert Statement.objects.count() == 0


def test_form_field_credentials_are_checked(xapi):
    form = {
        "content": json.dumps(StatementFactory()),
        "Authorization": "Basic bm9ib2R5Om5vdGhpbmc=",
        "X-Experience-API-Version": "1.0.3",
    }
    response = _post(xapi, "POST", form, headers=False)
    assert response.status_code == 401
    assert Statement.objects.count() == 0


@pytest.mark.parametrize(
    "case",
    [
        "extra query parameter",
        "json body",
        "no content",
        "unknown method",
        "repeated method",
        "unknown form field",
    ],
)
def test_a_malformed_alternate_request_is_400_and_stores_nothing(xapi, case):
    # given a PUT issued as a POST, written wrongly in one way
    statement = StatementFactory()
    form = {"statementId": statement["id"], "content": json.dumps(statement)}
    kwargs = {}
    method = "PUT"
    if case == "extra query parameter":
        kwargs["query"] = {"method": "PUT", "statementId": statement["id"]}
    elif case == "json body":
        form = json.dumps(form)
    elif case == "no content":
        del form["content"]
    elif case == "unknown method":
        method = "DELETE"
    elif case == "repeated method":
        kwargs["query"] = [("method", "PUT"), ("method", "GET")]
    else:
        form["colour"] = "blue"
    # when
    response = _post(xapi, method, form, **kwargs)
    # then
    assert response.status_code == 400
    assert response["X-Experience-API-Version"] == "1.0.3"
    assert Statement.objects.count() == 0


def test_an_alternate_request_not_sent_as_a_post_is_400(xapi):
    form = urlencode({"content": json.dumps(StatementFactory())})
    response = xapi.client.put(
        "/xapi/statements?method=POST", data=form, content_type=FORM, **xapi.headers
    )
    assert response.status_code == 400
    assert Statement.objects.count() == 0


def test_a_get_of_one_statement_issued_as_a_post(xapi):
    statement = StatementFactory()
    xapi.post(statement)
    response = _post(xapi, "GET", {"statementId": statement["id"], "format": "ids"})
    assert response.status_code == 200
    assert response.json()["id"] == statement["id"]
    missing = _post(xapi, "GET", {"statementId": str(uuid.uuid4())})
    assert missing.status_code == 404
    assert missing["X-Experience-API-Consistent-Through"]
