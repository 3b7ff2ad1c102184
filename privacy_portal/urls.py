"""The portal's URL map (see docs and DESIGN: keep the public paths stable)."""

from allauth.account import views as allauth_views
from django.contrib import admin
from django.db import transaction
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from accounts import views as account_views
from consent.api.docs import ApiDocsView
from dsr import store_views

from . import views

handler500 = "privacy_portal.views.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("language/", views.set_language, name="set_language"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    # allauth saves the account (or the added address) and then sends its confirmation: with
    # the mail server down, neither is kept, as the outage page says, and trying again works.
    path("accounts/signup/", transaction.atomic(allauth_views.signup), name="account_signup"),
    path(
        "accounts/email/", transaction.atomic(account_views.email_addresses), name="account_email"
    ),
    path("accounts/", include("allauth.urls")),
    path("account/data/stores/", store_views.holdings_status, name="dsr_holdings"),
    path("account/data/stores/refresh/", store_views.holdings_refresh, name="dsr_holdings_refresh"),
    path("account/", include("accounts.urls")),
    path("privacy/", include("consent.urls")),
    path("requests/", include("dsr.urls")),
    path("", include("consent.urls_public")),
    path("api/v1/consent/", include("consent.api.urls")),
    path("api/v1/requests/", include("dsr.api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api_schema"), name="api_docs"),
    path("dashboard/", include("dsr.dashboard.urls")),
    path("api/v1/stores/callback/", store_views.store_callback, name="store_callback"),
    path("admin/", admin.site.urls),
]
