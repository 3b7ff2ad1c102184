"""The dashboard's URLs (``dashboard:`` namespace, mounted at ``/dashboard/``). Every name here
must have its expected outcome per role in ``tests/dashboard/test_roles.py``."""

from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("search/", views.search, name="search"),
    path("requests/<str:reference>/", views.request_detail, name="request"),
    path("requests/<str:reference>/progress/", views.request_progress, name="progress"),
    path("requests/<str:reference>/receipt/", views.receipt, name="receipt"),
    path("requests/<str:reference>/assign/", views.assign, name="assign"),
    path("requests/<str:reference>/verify/", views.verify, name="verify"),
    path("requests/<str:reference>/approve/", views.approve, name="approve"),
    path("requests/<str:reference>/reject/", views.reject, name="reject"),
    path("requests/<str:reference>/extend/", views.extend, name="extend"),
    path("requests/<str:reference>/cancel/", views.cancel, name="cancel"),
    path("requests/<str:reference>/notes/", views.note, name="note"),
    path(
        "requests/<str:reference>/lift-restriction/",
        views.lift_restriction,
        name="lift_restriction",
    ),
    path("requests/<str:reference>/resend-link/", views.resend_link, name="resend_link"),
    path(
        "requests/<str:reference>/answer-without-failed/",
        views.answer_without_failed,
        name="answer_without_failed",
    ),
    path("requests/<str:reference>/preview/", views.preview_start, name="preview"),
    path("requests/<str:reference>/preview/panel/", views.preview_panel, name="preview_panel"),
    path("tasks/<int:pk>/retry/", views.task_retry, name="task_retry"),
    path("tasks/<int:pk>/done/", views.task_done, name="task_done"),
    path("tasks/<int:pk>/evidence/", views.task_evidence, name="task_evidence"),
    path("metrics/", views.metrics_page, name="metrics"),
    path("metrics/yearly/", views.yearly, name="yearly"),
    path("metrics/yearly.csv", views.yearly_csv, name="yearly_csv"),
    path("metrics/<slug:key>.csv", views.metrics_csv, name="metrics_csv"),
    path("audit/", views.audit_trail, name="audit"),
    path("audit/export.csv", views.audit_csv, name="audit_csv"),
    path("audit/verify/", views.audit_verify, name="audit_verify"),
    path("processing/", views.processing_record, name="processing"),
    path("processing.csv", views.processing_csv, name="processing_csv"),
    path("retention/", views.retention_page, name="retention"),
    path("retention/<slug:job>/dry-run/", views.retention_dry_run, name="retention_dry_run"),
]
