"""
JWT sign-in, refresh and revocation (simplejwt with its token_blacklist app).

- Sign-in (`TokenObtainApi`) goes through django-axes: five failures in the window lock the
  account and, separately, the client address; a locked-out attempt gets 429 JSON with the
  same words whether or not the account exists.
- Refresh tokens rotate: each use returns a new one and blacklists the one used.
- `user_tokens_revoke()` blacklists every outstanding refresh token of a user; the admin
  calls it on a password change or deactivation. Every token also carries a digest of the
  password hash (CHECK_REVOKE_TOKEN), and refresh refuses one minted before the password
  changed by any other path (`manage.py changepassword`, the admin's own password page).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.response import Response
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password
from rest_framework_simplejwt.views import TokenObtainPairView, TokenViewBase

from core.errors import DomainError
from core.lockouts import LOGIN_LOCKED_MESSAGE


class LoginLockedError(DomainError):
    code = "too_many_attempts"
    status_code = 429
    default_message = LOGIN_LOCKED_MESSAGE


@transaction.atomic
def user_tokens_revoke(*, user) -> int:
    """Blacklist every outstanding refresh token of `user`; returns how many were live."""
    outstanding = OutstandingToken.objects.filter(user=user).exclude(
        pk__in=BlacklistedToken.objects.values("token_id")
    )
    revoked = 0
    for token in outstanding:
        _, created = BlacklistedToken.objects.get_or_create(token=token)
        revoked += created
    return revoked


class TokenObtainApi(TokenObtainPairView):
    """POST username and password: an access and a refresh token (locked out after 5 misses)."""

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except AuthenticationFailed:
            # django-axes flags the (DRF) request it was handed when this attempt hit, or
            # was refused by, a lockout.
            if getattr(request, "axes_locked_out", False):
                from django.conf import settings

                raise LoginLockedError(
                    retry_after=int(settings.AXES_COOLOFF_TIME.total_seconds())
                ) from None
            raise
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """simplejwt's refresh, refusing a token of a user who changed password since."""

    def validate(self, attrs):
        refresh = RefreshToken(attrs["refresh"])  # raises for expired or blacklisted tokens
        user_id = refresh.payload.get(jwt_settings.USER_ID_CLAIM)
        user = get_user_model().objects.filter(**{jwt_settings.USER_ID_FIELD: user_id}).first()
        if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed(
                "No active account found for the given token.", code="no_active_account"
            )
        if refresh.payload.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(
            user.password
        ):
            raise AuthenticationFailed(
                "The user's password has been changed.", code="password_changed"
            )
        return super().validate(attrs)


class LogoutApi(TokenViewBase):
    """POST a refresh token: it is blacklisted and can mint no more access tokens."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LogoutInput"

        refresh = serializers.CharField(write_only=True)

        def validate(self, attrs):
            RefreshToken(attrs["refresh"]).blacklist()
            return {}

    serializer_class = InputSerializer

    @extend_schema(request=InputSerializer, responses={204: None})
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)
