from django.contrib import admin
from django.urls import include, path
from oauth2_provider import urls as dot_urls

from tongban.api import api
from tongban.identity.oidc_views import RegionAuthorizationView

oidc_provider_urls = dot_urls.base_urlpatterns + dot_urls.oidc_urlpatterns

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    # this node as an OpenID Connect provider for its residents (single sign-on)
    path("o/authorize/", RegionAuthorizationView.as_view(), name="oidc_authorize"),
    # only the provider's protocol endpoints: no client self-registration or management pages
    path("o/", include((oidc_provider_urls, "oauth2_provider"), namespace="oauth2_provider")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("tongban.portal.urls")),
]
