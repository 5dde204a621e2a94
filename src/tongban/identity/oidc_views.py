"""The provider's authorization endpoint, allowed to send its consent form on to the
client's redirect URI (the page's Content-Security-Policy otherwise forbids it)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.utils.csp import CSP
from oauth2_provider.models import Application
from oauth2_provider.views import AuthorizationView


class RegionAuthorizationView(AuthorizationView):
    # the site's own page (consent, or why the request cannot be served), not the
    # library's bare English one
    template_name = "portal/oidc_authorize.html"

    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        client_id = request.GET.get("client_id") or request.POST.get("client_id")
        application = Application.objects.filter(client_id=client_id).first() if client_id else None
        if application is not None:
            origins = {
                f"{parts.scheme}://{parts.netloc}"
                for uri in application.redirect_uris.split()
                if (parts := urlsplit(uri)).scheme in ("http", "https")
            }
            response._csp_config = {
                **settings.SECURE_CSP,
                "form-action": [CSP.SELF, *sorted(origins)],
            }
        return response
