from django.urls import path

from . import views

app_name = "dsr"

urlpatterns = [
    path("", views.request_list, name="list"),
    path("new/", views.request_new, name="new"),
    path("sent/", views.request_sent, name="sent"),
    path("verify/<str:token>/", views.request_verify, name="verify"),
    path("<str:reference>/", views.request_detail, name="detail"),
    path("<str:reference>/progress/", views.request_progress, name="progress"),
    path("<str:reference>/cancel/", views.request_cancel, name="cancel"),
    path("<str:reference>/download/", views.request_download, name="download"),
    path("<str:reference>/download/code/", views.request_download_guest, name="download_guest"),
]
