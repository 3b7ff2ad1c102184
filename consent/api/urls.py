from django.urls import path

from . import views

app_name = "consent_api"

urlpatterns = [
    path("customers/<int:customer_id>/", views.CustomerConsentView.as_view(), name="customer"),
    path("lookup/", views.LookupView.as_view(), name="lookup"),
    path("events/", views.EventsView.as_view(), name="events"),
    path("changes/", views.ChangesView.as_view(), name="changes"),
    path("purposes/", views.PurposesView.as_view(), name="purposes"),
    path("sms/inbound/", views.SmsInboundView.as_view(), name="sms_inbound"),
]
