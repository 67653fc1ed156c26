"""
Signed statements (Data §2.6): an attachment with usageType …/attachments/signature and
contentType application/octet-stream whose raw part is a JWS (compact serialization)
over the statement as it was before the signature was added.

What the LRS must do (§2.6 "LRS Requirements") and does here, 400 otherwise:
- decode the JWS and load the statement from its payload (valid JSON, an object);
- check that the algorithm is RS256, RS384 or RS512;
- if the JWS header carries an X.509 certificate chain (`x5c`), verify the signature
  with the first certificate's public key. Without one there is no key to check against:
  the specification then asks for the structural checks only, and accepts the statement
  (the signature is kept; verifying who signed it is the reader's business, §2.6 note);
- check that the signed statement is logically equivalent to the one received, under the
  specification's statement comparison rules (§2.3.1): `id` only if the payload has one;
  `authority`, `stored`, `version` and `attachments` (the signature itself is one) are
  not compared; timestamps compare as instants, Group members in any order.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import jwt
from cryptography import x509

from analytics import documents
from analytics.errors import StatementInvalidError
from analytics.multipart import Part

SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
SIGNATURE_CONTENT_TYPE = "application/octet-stream"
ALGORITHMS = ("RS256", "RS384", "RS512")


def _fail(path: str, reason: str) -> None:
    raise StatementInvalidError(f"{path}: {reason}", path=path)


def signature_attachments(statement: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in statement.get("attachments", ()) if a.get("usageType") == SIGNATURE_USAGE]


def verify_signatures(statement: dict[str, Any], parts: dict[str, Part], path: str) -> None:
    """Raise StatementInvalidError unless each signature of `statement` is well formed,
    signed with an allowed algorithm (verified when it names its certificate) and over
    this very statement."""
    for index, attachment in enumerate(signature_attachments(statement)):
        where = f"{path}.attachments[{index}]"
        if attachment["contentType"] != SIGNATURE_CONTENT_TYPE:
            _fail(f"{where}.contentType", f"a signature is {SIGNATURE_CONTENT_TYPE}")
        part = parts.get(str(attachment["sha2"]).lower())
        if part is None:
            _fail(where, "a signature must be sent as a multipart/mixed part")
        _verify(part.content, statement, where)


def _verify(token_bytes: bytes, statement: dict[str, Any], where: str) -> None:
    try:
        token = token_bytes.decode("ascii").strip()
        header = jwt.get_unverified_header(token)
    except (UnicodeDecodeError, jwt.InvalidTokenError):
        _fail(where, "the signature is not a JWS in compact serialization")
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        _fail(where, f"the JWS algorithm must be one of {', '.join(ALGORITHMS)}")
    jws = jwt.PyJWS(algorithms=list(ALGORITHMS))
    try:
        if "x5c" in header:
            key = _certificate_key(header["x5c"], where)
            signed = jws.decode(token, key=key, algorithms=[algorithm])
        else:
            signed = jws.decode(token, options={"verify_signature": False})
    except jwt.InvalidSignatureError:
        _fail(where, "the JWS signature does not verify with its x5c certificate")
    except (jwt.PyJWTError, TypeError, ValueError) as exc:
        # A malformed token, or a certificate whose key is not an RSA key.
        _fail(where, f"the JWS cannot be decoded or checked ({exc})")
    try:
        original = json.loads(signed)
    except (ValueError, UnicodeDecodeError):
        _fail(where, "the JWS payload is not a JSON serialization of the statement")
    if not isinstance(original, dict):
        _fail(where, "the JWS payload is not a statement")
    if not _equivalent(original, statement):
        _fail(where, "the JWS payload is not the statement it signs")


def _certificate_key(chain: Any, where: str):
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        _fail(where, "the JWS x5c header must be a certificate chain")
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
    except (binascii.Error, ValueError):
        _fail(where, "the JWS x5c certificate cannot be read")
    return certificate.public_key()


def _equivalent(original: dict[str, Any], received: dict[str, Any]) -> bool:
    if "id" in original and str(original["id"]).lower() != str(received.get("id", "")).lower():
        return False
    try:
        return documents.comparable(_without_attachments(original)) == documents.comparable(
            _without_attachments(received)
        )
    except (KeyError, TypeError, AttributeError, StatementInvalidError):
        return False  # a payload that is not a valid statement matches nothing


def _without_attachments(statement: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in statement.items() if key != "attachments"}
