"""API authentication: bearer tokens for API clients, the session for pages."""

from ninja.security import HttpBearer, SessionAuth

from tongban.identity.services import api_token_authenticate


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        user = api_token_authenticate(token)
        if user is not None:
            request.user = user
        return user


api_auth = [BearerToken(), SessionAuth()]
