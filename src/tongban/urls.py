from django.contrib import admin
from django.urls import include, path

from tongban.api import api
from tongban.identity.oidc_views import RegionAuthorizationView

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    # this node as an OpenID Connect provider for its residents (single sign-on)
    path("o/authorize/", RegionAuthorizationView.as_view(), name="oidc_authorize"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("tongban.portal.urls")),
]
