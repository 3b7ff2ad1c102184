from django.urls import path

from . import banner, views

app_name = "consent"

urlpatterns = [
    path("", views.preferences, name="preferences"),
    path("choices/stop-all-marketing/", views.stop_all_marketing, name="stop_all_marketing"),
    path("choices/<slug:key>/", views.preference_update, name="preference_update"),
    path("history/", views.history, name="history"),
    path("history/receipt.json", views.receipt, name="receipt"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("cookies/", views.cookies, name="cookies"),
    path("do-not-sell-or-share/", views.opt_out_sharing, name="opt_out_sharing"),
    path("cookie-policy/", views.cookie_policy, name="cookie_policy"),
    path("cookie-policy/v<int:version>/", views.cookie_policy, name="cookie_policy_version"),
    path("statement/", views.statement, name="statement"),
    path("statement/v<int:version>/", views.statement, name="statement_version"),
    path("notices/<int:pk>/seen/", views.notice_seen, name="notice_seen"),
    path("banner/config.json", banner.banner_config, name="banner_config"),
    path("banner/choice", banner.banner_choice, name="banner_choice"),
]
