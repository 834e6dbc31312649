"""`Authorization: Token <key>` authentication against hashed per-user tokens."""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import User
from api.models import ApiToken

KEYWORD = "Token"


class TokenRequest(Request):
    """A request of a TokenAPIView: DRF has let it through with a token of an approved
    clinician (TokenAuthentication, IsApprovedClinician), so its user is a User."""

    user: User


class TokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
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

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD
