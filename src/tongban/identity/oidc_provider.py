"""This node as an OpenID Connect provider for its own residents (django-oauth-toolkit).

Relying parties are the other nodes of the region: their clients are
provisioned from the hub's signed global configuration
(``federation_clients_sync``), public with PKCE, redirect URIs fixed to
``<node base URL>/sso/callback/<this node>/``.
"""

from __future__ import annotations

from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator

from tongban.identity.residence import home_node_of

CLAIMS_SCOPE = "profile"


class ResidentClaimsValidator(OAuth2Validator):
    """ID token and userinfo claims: who the resident is and how well we know it."""

    oidc_claim_scope = {
        **OAuth2Validator.oidc_claim_scope,
        "name": CLAIMS_SCOPE,
        "cn_ric": CLAIMS_SCOPE,
        "acr": CLAIMS_SCOPE,
        "home_node": CLAIMS_SCOPE,
        "amr": CLAIMS_SCOPE,
        "auth_time": "openid",
    }

    def get_additional_claims(self, request):
        user = request.user
        person = getattr(user, "person", None)
        if (
            user.kind != "person"
            or person is None
            or user.federated_issuer
            or person.home_node != settings.TONGBAN_NODE
            or home_node_of(person.id_number) not in ("", settings.TONGBAN_NODE)
        ):
            # only this node's own residents: for a region 身份证号 the province's node
            # (relying region nodes check the same); a number from outside the region is
            # vouched for only by the node it lives at (through the national platform)
            return {}
        return {
            "name": person.name,
            "cn_ric": person.id_number,
            "acr": user.assurance,
            "home_node": settings.TONGBAN_NODE,
            "amr": ["pwd", "otp"],
        }


def client_id_for(node_id: str) -> str:
    return f"tongban-{node_id}"


def federation_clients_sync() -> int:
    """Register every other active node as a relying party of this node."""
    from oauth2_provider.models import Application

    from tongban.directory.models import Node

    here = settings.TONGBAN_NODE
    count = 0
    for node in Node.objects.filter(role="node", active=True).exclude(node_id=here):
        Application.objects.update_or_create(
            client_id=client_id_for(node.node_id),
            defaults={
                "name": f"{node.name}（{node.app_name}）",
                "client_type": Application.CLIENT_PUBLIC,
                "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
                "redirect_uris": f"{node.base_url}/sso/callback/{here}/",
                "skip_authorization": True,  # a region member vouched for by the hub
                "algorithm": Application.RS256_ALGORITHM,
                "client_secret": "",
                "hash_client_secret": False,
            },
        )
        count += 1
    Application.objects.filter(client_id__startswith="tongban-").exclude(
        client_id__in=[
            client_id_for(n)
            for n in Node.objects.filter(role="node", active=True).values_list("node_id", flat=True)
        ]
    ).delete()
    return count


def public_jwks() -> dict:
    """This node's OIDC signing key as a JWKS (kid = RFC 7638 thumbprint, as DOT uses)."""
    from jwcrypto import jwk

    key = jwk.JWK.from_pem(settings.OIDC_RSA_PRIVATE_KEY.encode())
    public = key.export_public(as_dict=True)
    public.update({"kid": key.thumbprint(), "use": "sig", "alg": "RS256"})
    return {"keys": [public]}
