"""Raw statement attachments: multipart/mixed in (POST, PUT) and out (attachments=true)."""

import hashlib
import itertools
import json
import os
import uuid

import pytest

from analytics import multipart
from analytics.models import Statement, StatementAttachment
from tests.analytics import xapi_multipart as mp
from tests.analytics.factories import StatementFactory

pytestmark = pytest.mark.django_db

# Bytes that trip line-based parsers: bare CR and LF, CRLF, a delimiter-like line.
AWKWARD = b"\r\n--not-the-boundary\r\n\r\x00\xff\n" + os.urandom(2048) + b"\r"


def _statement_with(*contents, **extra):
    return StatementFactory(attachments=[mp.attachment(c) for c in contents], **extra)


# --- storing ----------------------------------------------------------------------------


def test_a_statement_with_raw_attachments_is_stored_with_their_bytes(xapi):
    # given a statement declaring two attachments, and their parts
    first, second = b"here is a simple attachment", AWKWARD
    statement = _statement_with(first, second)
    body = mp.body(statement, [mp.part(first), mp.part(second, content_type="image/png")])
    # when
    response = mp.post(xapi, body)
    # then the statement and each attachment are stored, the bytes exactly
    assert response.status_code == 200, response.content
    assert response.json() == [statement["id"]]
    stored = {a.sha2: a for a in StatementAttachment.objects.all()}
    assert bytes(stored[hashlib.sha256(second).hexdigest()].content) == second
    assert stored[hashlib.sha256(second).hexdigest()].content_type == "image/png"
    assert stored[hashlib.sha256(first).hexdigest()].length == len(first)
    assert Statement.objects.get(pk=statement["id"]).data["attachments"][0]["sha2"] == (
        hashlib.sha256(first).hexdigest()
    )


def test_an_attachment_is_stored_once_whatever_the_number_of_statements_carrying_it(xapi):
    content = b"the same certificate, twice"
    batch = [_statement_with(content), _statement_with(content)]
    assert mp.post(xapi, mp.body(batch, [mp.part(content)])).status_code == 200
    again = _statement_with(content)
    assert mp.post(xapi, mp.body(again, [mp.part(content)])).status_code == 200
    assert StatementAttachment.objects.count() == 1
    assert Statement.objects.count() == 3


def test_a_put_may_carry_raw_attachments(xapi):
    statement = _statement_with(b"put me")
    statement_id = statement.pop("id")
    response = mp.post(
        xapi,
        mp.body(statement, [mp.part(b"put me")]),
        path=f"/xapi/statements?statementId={statement_id}",
        put=True,
    )
    assert response.status_code == 204
    assert StatementAttachment.objects.count() == 1


def test_an_attachment_with_a_file_url_may_also_send_its_part(xapi):
    content = b"here is a simple attachment"
    statement = StatementFactory(
        attachments=[mp.attachment(content, fileUrl="http://over.there.com/file.txt")]
    )
    response = mp.post(xapi, mp.body(statement, [mp.part(content)]))
    assert response.status_code == 200
    assert StatementAttachment.objects.count() == 1


def test_attachments_by_file_url_need_no_part_in_json(xapi):
    statement = StatementFactory(
        attachments=[mp.attachment(b"x", fileUrl="https://files.example.com/x.txt")]
    )
    assert xapi.post(statement).status_code == 200
    assert StatementAttachment.objects.count() == 0


# --- refusals ---------------------------------------------------------------------------


def test_an_attachment_without_file_url_and_without_its_part_is_400(xapi):
    statement = _statement_with(b"missing")
    mp.assert_refused(xapi.post(statement), "multipart/mixed part")
    mp.assert_refused(mp.post(xapi, mp.body(statement)), "multipart/mixed part")


def test_a_part_no_statement_declares_is_400(xapi):
    statement = _statement_with(b"declared")
    body = mp.body(statement, [mp.part(b"declared"), mp.part(b"excess")])
    mp.assert_refused(mp.post(xapi, body), "matches no attachment")


def test_a_part_whose_bytes_do_not_hash_to_its_header_is_400(xapi):
    statement = _statement_with(b"declared")
    forged = mp.part(b"other bytes", sha2=hashlib.sha256(b"declared").hexdigest())
    mp.assert_refused(mp.post(xapi, mp.body(statement, [forged])), "does not hash")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X-Experience-API-Hash": None}, "X-Experience-API-Hash"),
        ({"Content-Transfer-Encoding": None}, "binary"),
        ({"Content-Transfer-Encoding": "base64"}, "binary"),
    ],
)
def test_a_part_without_its_headers_is_400(xapi, headers, reason):
    statement = _statement_with(b"declared")
    body = mp.body(statement, [mp.part(b"declared", **headers)])
    mp.assert_refused(mp.post(xapi, body), reason)


def test_a_first_part_that_is_not_json_is_400(xapi):
    statement = _statement_with(b"declared")
    body = mp.body(statement, [mp.part(b"declared")], first_type="text/plain")
    mp.assert_refused(mp.post(xapi, body), "first part")


def test_a_multipart_request_without_a_boundary_is_400(xapi):
    statement = _statement_with(b"declared")
    mp.assert_refused(
        mp.post(xapi, mp.body(statement, [mp.part(b"declared")]), boundary=""), "boundary"
    )


def test_a_body_whose_delimiters_do_not_match_the_boundary_is_400(xapi):
    statement = _statement_with(b"declared")
    body = mp.body(statement, [mp.part(b"declared")], boundary="another-boundary")
    mp.assert_refused(mp.post(xapi, body), "boundaries")


def test_a_body_missing_its_closing_delimiter_is_400(xapi):
    statement = _statement_with(b"declared")
    body = mp.body(statement, [mp.part(b"declared")]).rsplit(b"\r\n--", 1)[0]
    mp.assert_refused(mp.post(xapi, body), "boundaries")


def test_a_nul_in_the_statements_part_is_400_not_500(xapi):
    statement = _statement_with(b"declared", result={"response": "SENTINEL"})
    document = json.dumps(statement).replace("SENTINEL", "\\u0000").encode()
    mp.assert_refused(mp.post(xapi, mp.body(document, [mp.part(b"declared")])), "NUL")


def test_an_attachment_over_the_size_limit_is_413(xapi, settings):
    settings.XAPI_ATTACHMENT_MAX_BYTES = 16
    content = b"seventeen bytes!!"
    response = mp.post(xapi, mp.body(_statement_with(content), [mp.part(content)]))
    assert response.status_code == 413
    assert Statement.objects.count() == StatementAttachment.objects.count() == 0


def test_a_conflicting_statement_stores_none_of_the_request_s_attachments(xapi):
    # given a stored statement
    statement = StatementFactory()
    xapi.post(statement)
    # when the same id comes back, changed, with an attachment
    changed = dict(statement, attachments=[mp.attachment(b"late")])
    response = mp.post(xapi, mp.body(changed, [mp.part(b"late")]))
    # then 409, and the attachment was rolled back with it
    assert response.status_code == 409
    assert StatementAttachment.objects.count() == 0


# --- reading back -----------------------------------------------------------------------


def test_get_one_statement_with_attachments_answers_multipart(xapi):
    # given a stored statement with two raw attachments
    first, second = b"here is a simple attachment", AWKWARD
    statement = _statement_with(first, second)
    mp.post(xapi, mp.body(statement, [mp.part(first), mp.part(second)]))
    # when
    response = xapi.get({"statementId": statement["id"], "attachments": "true"})
    # then the statement comes first, then each attachment with its hash, bytes exact
    assert response.status_code == 200
    document, parts = mp.parse_response(response)
    assert json.loads(document)["id"] == statement["id"]
    assert [p[0]["X-Experience-API-Hash"] for p in parts] == [
        hashlib.sha256(first).hexdigest(),
        hashlib.sha256(second).hexdigest(),
    ]
    assert [p[1] for p in parts] == [first, second]
    assert all(p[0]["Content-Transfer-Encoding"] == "binary" for p in parts)
    assert response["X-Experience-API-Consistent-Through"]


def test_get_statements_with_attachments_answers_the_statement_result_first(xapi):
    content = b"one attachment for two statements"
    batch = [_statement_with(content), _statement_with(content), StatementFactory()]
    mp.post(xapi, mp.body(batch, [mp.part(content)]))
    response = xapi.get({"attachments": "true"})
    document, parts = mp.parse_response(response)
    result = json.loads(document)
    assert len(result["statements"]) == 3 and result["more"] == ""
    assert [p[1] for p in parts] == [content]


def test_get_without_attachments_answers_json_only(xapi):
    content = b"not sent back"
    statement = _statement_with(content)
    mp.post(xapi, mp.body(statement, [mp.part(content)]))
    for params in ({"statementId": statement["id"]}, {"attachments": "false"}):
        response = xapi.get(params)
        assert response["Content-Type"] == "application/json"
        assert content not in response.content


def test_a_statement_without_raw_attachments_answers_multipart_with_the_json_alone(xapi):
    statement = StatementFactory()
    xapi.post(statement)
    response = xapi.get({"statementId": statement["id"], "attachments": "true"})
    document, parts = mp.parse_response(response)
    assert json.loads(document)["id"] == statement["id"]
    assert parts == []


# --- the wire format --------------------------------------------------------------------


def test_compose_and_parse_round_trip_any_bytes():
    contents = [AWKWARD, b"", os.urandom(5000), b"\r\n"]
    parts = [
        multipart.Part(sha2=hashlib.sha256(c).hexdigest(), content_type="x/y", content=c)
        for c in contents
    ]
    content_type, body = multipart.compose(b'{"id": "x"}', parts)
    parsed = multipart.parse(content_type, body)
    assert parsed.statements == b'{"id": "x"}'
    assert parsed.parts == parts


def test_parse_reads_a_quoted_boundary_and_a_preamble():
    statement = json.dumps({"id": str(uuid.uuid4())}).encode()
    body = b"preamble to ignore\r\n" + mp.body(statement, [mp.part(b"x")], boundary="a b")
    parsed = multipart.parse('multipart/mixed; boundary="a b"', body)
    assert parsed.statements == statement
    assert [p.content for p in parsed.parts] == [b"x"]


def test_a_sub_statement_s_raw_attachment_needs_its_part_too(xapi):
    # given a statement whose SubStatement declares an attachment without fileUrl
    inner = _statement_with(b"inner bytes")
    del inner["id"], inner["timestamp"]
    statement = StatementFactory(object={"objectType": "SubStatement", **inner})
    # when it comes without, then with, the part
    without = mp.post(xapi, mp.body(statement))
    with_part = mp.post(xapi, mp.body(statement, [mp.part(b"inner bytes")]))
    # then
    assert without.status_code == 400
    assert with_part.status_code == 200
    answer = xapi.get({"statementId": statement["id"], "attachments": "true"})
    assert [content for _, content in mp.parse_response(answer)[1]] == [b"inner bytes"]


def test_an_attachments_page_ends_early_rather_than_exceed_the_byte_budget(xapi, settings):
    # given three statements with ten bytes of attachment each, two sharing theirs
    settings.XAPI_ATTACHMENTS_RESPONSE_MAX_BYTES = 25
    shared, own = b"ten bytes!", b"ten more.."
    for content in (own, shared, shared):
        mp.post(xapi, mp.body(_statement_with(content), [mp.part(content)]))
    # when the first page is asked for with attachments, in storing order
    response = xapi.get({"attachments": "true", "ascending": "true"})
    document, parts = mp.parse_response(response)
    first = json.loads(document)
    # then it stops at 20 of the 25 bytes: the third statement would bring no new bytes,
    # so all three fit; with a budget of 15, the page ends after the first
    assert len(first["statements"]) == 3 and first["more"] == ""
    assert [content for _, content in parts] == [own, shared]
    settings.XAPI_ATTACHMENTS_RESPONSE_MAX_BYTES = 15
    pages, path = [], "/xapi/statements?attachments=true&ascending=true"
    while path:
        answer = xapi.client.get(path, **xapi.headers)
        document, parts = mp.parse_response(answer)
        page = json.loads(document)
        pages.append(([s["id"] for s in page["statements"]], [c for _, c in parts]))
        path = page["more"]
    assert [len(ids) for ids, _ in pages] == [1, 2]
    assert [contents for _, contents in pages] == [[own], [shared]]
    # and without attachments, the page is not cut
    assert len(xapi.get({"ascending": "true"}).json()["statements"]) == 3


@pytest.mark.parametrize("depth", [3, 3000])
def test_an_attachment_part_that_is_itself_multipart_is_400_however_deep(xapi, depth):
    # given attachment parts nested inside one another, `depth` levels deep
    head = mp.body(_statement_with(b"declared")).rsplit(f"--{mp.BOUNDARY}--".encode(), 1)[0]
    boundaries = [mp.BOUNDARY, *(f"nested-{level}" for level in range(1, depth))]
    nested = b"".join(
        f"--{outer}\r\nContent-Type: multipart/mixed; boundary={inner}\r\n"
        "Content-Transfer-Encoding: binary\r\nX-Experience-API-Hash: 00\r\n\r\n".encode()
        for outer, inner in itertools.pairwise(boundaries)
    )
    closing = b"".join(f"--{b}--\r\n".encode() for b in reversed(boundaries))
    # when / then
    mp.assert_refused(mp.post(xapi, head + nested + closing), "multipart")
