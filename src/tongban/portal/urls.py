from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from tongban.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="portal/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # catalog (public)
    path("items/", views.item_list, name="items"),
    path("items/<str:basic_code>/", views.item_page, name="item"),
    # window intake (clerks)
    path("window/", views.window_console, name="window"),
    path("window/apply/", views.window_apply_choose, name="window_apply_choose"),
    path("window/apply/<str:basic_code>/", views.window_apply, name="window_apply"),
    # the deciding authority (officials)
    path("work/", views.worklist, name="work"),
    # applicants
    path("me/cases/", views.my_cases, name="my_cases"),
    # one case
    path("cases/<str:number>/", views.case_page, name="case"),
    path("cases/<str:number>/actions/<slug:action>/", views.case_action, name="case_action"),
    path(
        "cases/<str:number>/materials/<int:material_id>/",
        views.material_download,
        name="case_material",
    ),
    re_path(
        r"^cases/(?P<number>[^/]+)/(?P<kind>acceptance|conclusion|result)\.pdf$",
        views.case_document,
        name="case_document",
    ),
]
