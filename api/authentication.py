"""`Authorization: Token <key>` authentication against hashed per-user tokens."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework import authentication, exceptions

from accounts.models import User
from api.models import ApiToken

KEYWORD = "Token"


class TokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: HttpRequest) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None  # no token: DRF answers 401 with our WWW-Authenticate header
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the header as 'Authorization: Token <key>', with one key and no spaces in it."
            )
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token key is not valid.") from None
        token = ApiToken.find(key)
        if token is None:
            raise exceptions.AuthenticationFailed("This token is not valid or has been revoked.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The account of this token is disabled.")
        token.touch()
        return token.user, token

    def authenticate_header(self, request: HttpRequest) -> str:
        return KEYWORD
