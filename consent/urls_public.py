"""Consent URLs outside ``/privacy/``: one-click unsubscribe and the GPC support resource."""

from django.urls import path

from . import views

app_name = "consent_public"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path(".well-known/gpc.json", views.gpc_json, name="gpc"),
]
