"""Signed statements (Data §2.6): a JWS attachment over the statement, checked on the way in."""

import base64
import copy
import datetime
import json

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from analytics.models import Statement, StatementAttachment
from tests.analytics import xapi_multipart as mp
from tests.analytics.factories import StatementFactory

pytestmark = pytest.mark.django_db

SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(key, name: str = "LMS statement signer") -> str:
    """A self-signed X.509 certificate of `key`, DER in base64: an x5c entry."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


@pytest.fixture(scope="module")
def signer():
    """A private key and its self-signed certificate."""
    key = _key()
    return key, _certificate(key)


def _sign(statement, key, *, algorithm="RS256", x5c=None, payload=None):
    """The JWS a client attaches: over the statement as it was before the signature."""
    signed = payload if payload is not None else json.dumps(statement).encode()
    headers = {"x5c": x5c} if x5c else None
    token = jwt.PyJWS().encode(signed, key, algorithm=algorithm, headers=headers)
    return token.encode()


def _signed_request(statement, token, *, content_type="application/octet-stream"):
    """The statement with its signature attachment added, and the multipart body."""
    with_signature = copy.deepcopy(statement)
    with_signature.setdefault("attachments", []).append(
        mp.attachment(token, content_type=content_type, usageType=SIGNATURE)
    )
    return with_signature, mp.body(with_signature, [mp.part(token, content_type=content_type)])


def _post_signed(xapi, statement, token, **kwargs):
    with_signature, body = _signed_request(statement, token, **kwargs)
    return mp.post(xapi, body), with_signature


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
def test_a_statement_signed_with_its_certificate_is_stored_with_its_signature(
    xapi, signer, algorithm
):
    # given a statement signed with an RSA key whose certificate is in the JWS header
    key, x5c = signer
    statement = StatementFactory()
    token = _sign(statement, key, algorithm=algorithm, x5c=[x5c])
    # when
    response, sent = _post_signed(xapi, statement, token)
    # then it is stored, and its signature comes back with attachments=true
    assert response.status_code == 200, response.content
    assert Statement.objects.get(pk=statement["id"]).data["attachments"] == sent["attachments"]
    answer = xapi.get({"statementId": statement["id"], "attachments": "true"})
    _, parts = mp.parse_response(answer)
    assert [content for _, content in parts] == [token]


def test_a_signature_without_a_certificate_is_checked_for_form_only(xapi):
    # given a JWS with no x5c header: nothing to verify the signature against
    statement = StatementFactory()
    token = _sign(statement, _key())
    # when / then: accepted on its form and payload (xAPI 1.0.3 §2.6)
    response, _ = _post_signed(xapi, statement, token)
    assert response.status_code == 200, response.content


def test_a_signature_that_does_not_verify_with_its_certificate_is_400(xapi, signer):
    # given a statement signed with one key but carrying another key's certificate
    _, x5c = signer
    statement = StatementFactory()
    token = _sign(statement, _key(), x5c=[x5c])
    # when
    response, _ = _post_signed(xapi, statement, token)
    # then
    assert response.status_code == 400
    assert "does not verify" in response.json()["message"]
    assert Statement.objects.count() == StatementAttachment.objects.count() == 0


def test_a_signature_with_another_algorithm_is_400(xapi):
    statement = StatementFactory()
    token = _sign(statement, "a shared secret of 40 bytes, not an RSA key", algorithm="HS256")
    mp.assert_refused(_post_signed(xapi, statement, token)[0], "RS256, RS384, RS512")


def test_a_signature_over_another_statement_is_400(xapi, signer):
    key, x5c = signer
    statement = StatementFactory()
    other = dict(statement, verb={"id": "http://adlnet.gov/expapi/verbs/failed"})
    token = _sign(other, key, x5c=[x5c])
    mp.assert_refused(_post_signed(xapi, statement, token)[0], "not the statement it signs")


def test_a_signature_naming_another_id_is_400(xapi):
    statement = StatementFactory()
    token = _sign(dict(statement, id="8f0c1f0e-5a4b-4c3d-9e2f-1a2b3c4d5e6f"), _key())
    mp.assert_refused(_post_signed(xapi, statement, token)[0], "not the statement it signs")


def test_a_signature_whose_payload_is_not_json_is_400(xapi):
    statement = StatementFactory()
    broken = json.dumps(statement).replace('"', "'", 1).encode()
    token = _sign(statement, _key(), payload=broken)
    mp.assert_refused(_post_signed(xapi, statement, token)[0], "not a JSON serialization")


def test_a_signature_that_is_not_a_jws_is_400(xapi):
    statement = StatementFactory()
    mp.assert_refused(
        _post_signed(xapi, statement, b"not a signature at all")[0], "compact serialization"
    )


def test_a_signature_attachment_of_another_content_type_is_400(xapi):
    statement = StatementFactory()
    token = _sign(statement, _key())
    response, _ = _post_signed(xapi, statement, token, content_type="text/plain; charset=ascii")
    mp.assert_refused(response, "application/octet-stream")


def test_a_signature_sent_by_file_url_only_is_400(xapi):
    statement = StatementFactory()
    token = _sign(statement, _key())
    signature = mp.attachment(
        token,
        content_type="application/octet-stream",
        usageType=SIGNATURE,
        fileUrl="https://files.example.com/signature.jws",
    )
    response = xapi.post(dict(statement, attachments=[signature]))
    mp.assert_refused(response, "multipart/mixed part")


def test_what_the_store_adds_or_reformats_does_not_break_a_signature(xapi, signer):
    # given a signed statement without id and with a +02:00 timestamp, sent with an id,
    # a UTC timestamp, a version and an authority (all the store's to set or reformat)
    key, x5c = signer
    statement = StatementFactory(timestamp="2026-11-01T11:30:00+02:00")
    signed = {k: v for k, v in statement.items() if k != "id"}
    token = _sign(signed, key, x5c=[x5c])
    sent = dict(statement, timestamp="2026-11-01T09:30:00.000Z", version="1.0.3")
    # when
    response, _ = _post_signed(xapi, sent, token)
    # then
    assert response.status_code == 200, response.content


def test_each_statement_of_a_batch_carries_its_own_signature(xapi, signer):
    key, x5c = signer
    first, second = StatementFactory(), StatementFactory()
    tokens = [_sign(s, key, x5c=[x5c]) for s in (first, second)]
    batch = []
    for statement, token in zip((first, second), tokens, strict=True):
        signed, _ = _signed_request(statement, token)
        batch.append(signed)
    parts = [mp.part(t, content_type="application/octet-stream") for t in tokens]
    response = mp.post(xapi, mp.body(batch, parts))
    assert response.status_code == 200, response.content
    # and swapping the signatures is refused
    swapped = [dict(batch[0], id=batch[1]["id"]), dict(batch[1], id=batch[0]["id"])]
    assert mp.post(xapi, mp.body(swapped, parts)).status_code == 400


@pytest.mark.parametrize(
    ("x5c", "reason"),
    [
        ("elliptic curve", "cannot be decoded or checked"),
        (["not base64!"], "certificate cannot be read"),
        ([base64.b64encode(b"not DER").decode()], "certificate cannot be read"),
        ([], "must be a certificate chain"),
        (42, "must be a certificate chain"),
    ],
)
def test_an_x5c_that_holds_no_usable_rsa_certificate_is_400(xapi, x5c, reason):
    # given an RS256 signature whose x5c is an EC certificate, junk, or no chain at all
    if x5c == "elliptic curve":
        x5c = [_certificate(ec.generate_private_key(ec.SECP256R1()), "not an RSA signer")]
    statement = StatementFactory()
    token = (
        jwt.PyJWS()
        .encode(json.dumps(statement).encode(), _key(), algorithm="RS256", headers={"x5c": x5c})
        .encode()
    )
    # when / then
    response, _ = _post_signed(xapi, statement, token)
    mp.assert_refused(response, reason)
