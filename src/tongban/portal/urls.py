from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from tongban.portal import (
    account_views,
    composite_views,
    data_check_views,
    data_use_views,
    delivery_views,
    document_views,
    licence_views,
    notice_views,
    online_views,
    oversight_views,
    views,
)
from tongban.portal.ofd_views import issued_ofd, wallet_ofd

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    # signing in: password, then an SMS code for residents; or through another node
    path("login/", account_views.login_view, name="login"),
    path("login/code/", account_views.login_code, name="login_code"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("sso/<slug:provider>/start/", account_views.sso_start, name="sso_start"),
    path("sso/callback/<slug:provider>/", account_views.sso_callback, name="sso_callback"),
    # residents register at their province's platform; the hub says where
    path("register/", account_views.residents_only(account_views.register), name="register"),
    path(
        "register/verify/",
        account_views.residents_only(account_views.register_verify),
        name="register_verify",
    ),
    # catalog (public)
    path("items/", views.item_list, name="items"),
    path("items/<str:basic_code>/", views.item_page, name="item"),
    # a resident of another province, here by single sign-on: apply at home
    path(
        "items/<str:basic_code>/home-platform/",
        account_views.home_platform_handoff,
        name="home_platform",
    ),
    # online application by a signed-in resident (全程网办)
    path("apply/<str:basic_code>/", online_views.online_apply, name="online_apply"),
    # window intake (clerks)
    path("window/", views.window_console, name="window"),
    path("window/apply/", views.window_apply_choose, name="window_apply_choose"),
    path("window/identity/", views.window_identity_check, name="window_identity"),
    path("window/apply/<str:basic_code>/", views.window_apply, name="window_apply"),
    # the deciding authority (officials)
    path("work/", views.worklist, name="work"),
    # applicants
    path("me/cases/", views.my_cases, name="my_cases"),
    # 消息中心: what concerns the person (their home node keeps it)
    path("messages/", notice_views.notice_list, name="messages"),
    path("messages/read-all/", notice_views.notices_read_all, name="messages_read_all"),
    path("messages/<int:notice_id>/read/", notice_views.notice_read, name="message_read"),
    path("me/enterprises/", online_views.my_enterprises, name="enterprises"),
    path("me/enterprises/register/", online_views.enterprise_register, name="enterprise_register"),
    path("me/enterprises/<str:code>/agents/", online_views.agent_authorize, name="agent_authorize"),
    path(
        "me/authorizations/<int:authorization_id>/revoke/",
        online_views.agent_revoke,
        name="agent_revoke",
    ),
    # 我的数据使用记录 (at the person's home node) and the 数据专员's flags
    path("me/data-use/", data_use_views.data_use_log, name="data_use"),
    path("me/data-use/export.csv", data_use_views.data_use_csv, name="data_use_csv"),
    path("me/data-use/export.pdf", data_use_views.data_use_pdf, name="data_use_pdf"),
    path("me/data-use/<str:use_id>/flag/", data_use_views.data_use_flag, name="data_use_flag"),
    path("data-officer/", data_use_views.officer_flags, name="data_officer"),
    path(
        "data-officer/flags/<str:flag_id>/answer/",
        data_use_views.officer_answer,
        name="data_officer_answer",
    ),
    # 电子证照: the holder's wallet and 亮证
    path("me/licences/", licence_views.wallet, name="wallet"),
    path("me/licences/<str:identifier>/", licence_views.wallet_entry, name="wallet_entry"),
    path("me/licences/<str:identifier>/pdf/", licence_views.wallet_pdf, name="wallet_pdf"),
    path("me/licences/<str:identifier>/ofd/", wallet_ofd, name="wallet_ofd"),
    path("me/licences/<str:identifier>/show/", licence_views.wallet_show, name="wallet_show"),
    # 核验 (public): printed documents and presentations, and the status of a licence issued here
    path("verify/", document_views.verify, name="verify"),
    path(
        "verify/licence/<str:identifier>/",
        licence_views.licence_status_page,
        name="licence_status",
    ),
    # the issuing authority (officials; supervisors read)
    path("work/licences/", licence_views.issued_list, name="issued_licences"),
    path("work/licences/issue/", licence_views.licence_issue, name="licence_issue"),
    path("work/licences/<str:identifier>/", licence_views.issued_detail, name="issued_licence"),
    path(
        "work/licences/<str:identifier>/pdf/",
        licence_views.issued_pdf,
        name="issued_licence_pdf",
    ),
    path("work/licences/<str:identifier>/ofd/", issued_ofd, name="issued_licence_ofd"),
    path(
        "work/licences/<str:identifier>/actions/<slug:action>/",
        licence_views.issued_action,
        name="issued_licence_action",
    ),
    # 时限监督 (supervisors) and, on the hub, where every 联办件 stands (its operators)
    path("oversight/", oversight_views.oversight, name="oversight"),
    path("region/composites/", oversight_views.region_composites, name="region_composites"),
    # one 联办件 (its stages or parts, and the results collected)
    path("composites/<str:number>/", composite_views.composite_page, name="composite"),
    # one case
    path("cases/<str:number>/", views.case_page, name="case"),
    path("cases/<str:number>/actions/<slug:action>/", views.case_action, name="case_action"),
    path(
        "cases/<str:number>/data-checks/", data_check_views.case_data_check, name="case_data_check"
    ),
    path(
        "cases/<str:number>/delivery/<slug:action>/",
        delivery_views.case_delivery_action,
        name="case_delivery",
    ),
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
