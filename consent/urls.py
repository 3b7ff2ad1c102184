from django.urls import path

from . import views

app_name = "consent"

urlpatterns = [
    path("statement/", views.statement, name="statement"),
]
