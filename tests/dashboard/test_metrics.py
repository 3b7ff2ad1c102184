"""The figures: computed by the database, equal to what the rows say, and their CSVs."""

from __future__ import annotations

import csv
import html
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from dsr.dashboard import metrics
from dsr.models import DataSubjectRequest, State, TaskState
from dsr.services import dsr_task_retry
from tests.dsr.helpers import add_store, file_request, run_pending_tasks

pytestmark = pytest.mark.django_db


def _make(kind, state, received_days_ago, took_days=None, late=False, reason=""):
    """A request received ``received_days_ago`` days ago, answered ``took_days`` later."""
    now = timezone.now()
    request = file_request(
        type=kind,
        email=f"p{DataSubjectRequest.objects.count()}@example.com",
        channel="portal_guest",
    )
    received = now - timedelta(days=received_days_ago)
    fields = {"received_at": received, "due_at": received + timedelta(days=30), "state": state}
    if took_days is not None:
        fields["completed_at"] = received + timedelta(days=took_days)
        if late:
            fields["due_at"] = received + timedelta(days=took_days - 1)
    if reason:
        fields["rejection_reason"] = reason
    DataSubjectRequest.objects.filter(pk=request.pk).update(**fields)
    return request


def _csv(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_percentiles_match_postgresqls_percentile_cont(postgres):
    days = [1, 2, 3, 4, 10, 12, 30, 31, 45, 3.5, 7.25]
    for took in days:
        _make("access", State.COMPLETED, 60, took_days=took)
    spread = metrics.spreads(
        DataSubjectRequest.objects.all(),
        metrics.Value("all", output_field=metrics.CharField()),
        metrics.DaysBetween(metrics.F("received_at"), metrics.F("completed_at")),
    )["all"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x), "
            "percentile_cont(0.9) WITHIN GROUP (ORDER BY x), AVG(x) FROM ("
            "SELECT EXTRACT(EPOCH FROM completed_at - received_at) / 86400.0 AS x "
            "FROM dsr_datasubjectrequest) v"
        )
        median, p90, mean = cursor.fetchone()
    assert spread.n == len(days)
    assert spread.median == pytest.approx(float(median))
    assert spread.p90 == pytest.approx(float(p90))
    assert spread.mean == pytest.approx(float(mean))
    assert spread.median == pytest.approx(7.25)


def test_the_monthly_figures_count_what_the_rows_say():
    _make("access", State.COMPLETED, 3, took_days=2)
    _make("access", State.COMPLETED, 4, took_days=4)
    _make("erasure", State.REJECTED, 2, took_days=1, reason="identity")
    _make("erasure", State.COMPLETED, 2, took_days=1, late=True)
    _make("erasure", State.IN_REVIEW, 1)
    month = timezone.now().strftime("%Y-%m")
    window = metrics.months_back(3)

    volume = metrics.volume(window)
    assert [month, "Access", 2, 2, 0] in volume.rows
    assert [month, "Erasure", 3, 1, 1] in volume.rows
    assert volume.datasets[0]["data"][-1] == 5

    on_time = metrics.on_time(window)
    assert on_time.rows == [[month, 4, 3, 75.0]]

    durations = metrics.durations(window)
    assert durations.rows[0][:2] == [month, 3]
    assert durations.rows[0][2] == pytest.approx(2.0)
    # An opt-out, done as it was filed, does not pull the days down.
    opt_out = run_pending_tasks(
        file_request(
            type="objection",
            email="optout@example.com",
            channel="portal_guest",
            purposes=["marketing_email"],
        )
    )
    assert opt_out.state == State.COMPLETED
    assert metrics.durations(window).rows[0][:2] == [month, 3]

    backlog = metrics.backlog(window)
    assert backlog.rows[-1] == [month, 1, 0]


def test_failure_rates_and_manual_waits_per_store(customer):
    add_store(
        "flaky", "tests.dsr.connectors.FlakyConnector", config={"fail_times": 1, "permanent": True}
    )
    held = run_pending_tasks(file_request(type="access", user=customer))
    failures = metrics.store_failures(metrics.months_back(1))
    rows = {row[0]: row for row in failures.rows}
    assert rows["Flaky"][1:] == [1, 0, 1, 0, 100.0]
    assert rows["Inper Privacy Portal"][3] == 0
    # Charted as counts: the retries and the failures.
    charted = {dataset["label"]: dataset["data"] for dataset in failures.datasets}
    at = failures.labels.index("Flaky")
    assert (charted["Needed a retry"][at], charted["Failed"][at]) == (0, 1)

    # Retried by staff, it succeeds: the failure stays counted, and so does the retry.
    failed = held.tasks.get(store__key="flaky")
    dsr_task_retry(task=failed, actor=None)
    run_pending_tasks(held)
    failed.refresh_from_db()
    assert failed.state == TaskState.SUCCEEDED and failed.attempts_before_retries == 1
    rows = {row[0]: row for row in metrics.store_failures(metrics.months_back(1)).rows}
    assert rows["Flaky"][1:] == [1, 0, 1, 1, 100.0]


def test_every_figure_downloads_as_csv_equal_to_its_table(compliance_client):
    _make("access", State.COMPLETED, 3, took_days=2)
    page = compliance_client.get("/dashboard/metrics/")
    assert page.status_code == 200
    assert 'id="dash-charts"' in page.content.decode()
    assert "/static/vendor/chartjs/chart.umd.min.js" in page.content.decode()
    for figure in page.context["figures"]:
        response = compliance_client.get(f"/dashboard/metrics/{figure.key}.csv", {"months": 12})
        assert response["Content-Type"].startswith("text/csv")
        rows = _csv(response)
        assert rows[0] == [str(c) for c in figure.columns]
        assert rows[1:] == [["" if c is None else str(c) for c in row] for row in figure.rows]
    assert compliance_client.get("/dashboard/metrics/nothing.csv").status_code == 404
    # Each figure's table and download are named with it: six "Download CSV" links alike
    # would leave a screen reader's list of links without a clue.
    text = page.content.decode()
    for figure in page.context["figures"]:
        title = html.escape(str(figure.title))
        assert f'Table<span class="visually-hidden">: {title}</span>' in text
        assert f'Download CSV<span class="visually-hidden">: {title}</span>' in text


def test_the_yearly_figures_for_regulators(compliance_client):
    # Every request below was received five days ago, whatever the date today.
    this_year = (timezone.now() - timedelta(days=5)).year
    for _ in range(3):
        _make("access", State.COMPLETED, 5, took_days=4)
    _make("access", State.PARTIALLY_COMPLETED, 5, took_days=10)
    _make("erasure", State.REJECTED, 5, took_days=2, reason="identity")
    _make("erasure", State.REJECTED, 5, took_days=6, reason="legal_claims")
    _make("erasure", State.CLOSED_UNVERIFIED, 5, took_days=7)
    _make("erasure", State.IN_REVIEW, 5)

    rows = {row.type: row for row in metrics.yearly(this_year)}
    access, erasure, total = rows["access"], rows["erasure"], rows["all"]
    assert (access.received, access.complied_whole, access.complied_part) == (4, 3, 1)
    assert access.median_days == 4.0 and access.mean_days == 5.5
    assert (erasure.received, erasure.denied, erasure.not_verified, erasure.still_open) == (
        4,
        2,
        1,
        1,
    )
    assert erasure.denied_by_reason["identity"] == 1
    assert erasure.denied_by_reason["legal_claims"] == 1
    assert erasure.median_days == 4.0
    assert total.received == 8 and total.median_days == 4.0
    last_year = {row.type: row for row in metrics.yearly(this_year - 1)}
    assert last_year["all"].received == 0

    page = compliance_client.get("/dashboard/metrics/yearly/", {"year": this_year})
    assert page.status_code == 200 and "Complied with in whole" in page.content.decode()
    # On the page the figures go down and the types across, the total last.
    import re

    text = page.content.decode()
    heads = re.findall(r'<th scope="col"[^>]*>([^<]*)</th>', text)
    assert heads[0] == "Figure" and "Access" in heads
    assert heads[-2:] == ["All requests", "Opt-outs of selling or sharing"]
    received = re.search(r'<th scope="row">Received</th>(.*?)</tr>', text).group(1)
    assert re.findall(r">(\d+)</td>", received)[-2:] == ["8", "0"]
    assert re.search(r'class="num dash-total">8</td>', received)
    rows_csv = _csv(compliance_client.get("/dashboard/metrics/yearly.csv", {"year": this_year}))
    assert rows_csv[0][0] == "Type" and rows_csv[-2][0] == "All requests"
    assert rows_csv[-2][1] == "8"
    # The columns name reasons as a report does, not in the sentences written to the person.
    assert "Denied: identity not confirmed" in rows_csv[0]
    assert not [column for column in rows_csv[0] if "We " in column or "your" in column]


def test_the_yearly_figures_for_one_law_count_only_its_requests(compliance_client):
    """A Californian regulator asks about the CCPA's requests only."""
    this_year = (timezone.now() - timedelta(days=5)).year
    californian = _make("access", State.COMPLETED, 5, took_days=3)
    DataSubjectRequest.objects.filter(pk=californian.pk).update(regime="ccpa")
    _make("access", State.COMPLETED, 5, took_days=9)  # under the GDPR
    _make("erasure", State.REJECTED, 5, took_days=2, reason="identity")

    ccpa = {row.type: row for row in metrics.yearly(this_year, "ccpa")}
    assert (ccpa["access"].received, ccpa["access"].median_days) == (1, 3.0)
    assert ccpa["erasure"].received == 0 and ccpa["all"].received == 1
    every = {row.type: row for row in metrics.yearly(this_year)}
    assert every["all"].received == 3
    assert "opt_out_sharing" not in {row.type for row in metrics.yearly(this_year, "gdpr")}

    page = compliance_client.get(
        "/dashboard/metrics/yearly/", {"year": this_year, "law": "ccpa"}
    ).content.decode()
    assert "Only requests under the CCPA." in page
    assert '<option value="ccpa" selected>' in page
    assert f"yearly.csv?year={this_year}&amp;law=ccpa" in page
    response = compliance_client.get(
        "/dashboard/metrics/yearly.csv", {"year": this_year, "law": "ccpa"}
    )
    assert f"inper-requests-{this_year}-ccpa.csv" in response["Content-Disposition"]
    assert _csv(response)[-2][:2] == ["All requests", "1"]
    # A law the portal does not know: every request, as with none.
    page = compliance_client.get("/dashboard/metrics/yearly/", {"year": this_year, "law": "x<"})
    assert page.status_code == 200 and "Only requests under" not in page.content.decode()


def test_a_period_in_other_digits_shows_the_default_period(compliance_client):
    # "²" is a digit to str.isdigit() but not a number to int().
    response = compliance_client.get("/dashboard/metrics/", {"months": "²"})
    assert response.status_code == 200 and response.context["months"] == 12
    response = compliance_client.get("/dashboard/metrics/volume.csv", {"months": "¹²"})
    assert response.status_code == 200 and "12-months" in response["Content-Disposition"]


def test_the_backlog_counts_open_and_overdue_requests_as_the_queue_does():
    """This month's backlog is the queue's count: a partially completed request (one store
    failed for good) and one running again after a retry are open, whatever completion date
    they had; and a request whose clock is paused while its identity is awaited (UK GDPR) is not
    overdue."""
    from dsr.dashboard.selectors import queue_counts

    _make("access", State.COMPLETED, 5, took_days=2)  # answered: neither open nor overdue
    _make("access", State.PARTIALLY_COMPLETED, 40, took_days=35)  # a store failed for good
    _make("erasure", State.RUNNING, 50, took_days=20)  # retried after it had ended
    paused = _make("erasure", State.AWAITING_IDENTITY, 45)
    DataSubjectRequest.objects.filter(pk=paused.pk).update(
        clock_paused_at=paused.received_at, regime="uk_gdpr"
    )
    _make("erasure", State.IN_REVIEW, 31)  # due a day ago: overdue
    counts = queue_counts()
    backlog = metrics.backlog(metrics.months_back(3))
    month = timezone.now().strftime("%Y-%m")
    assert backlog.rows[-1] == [month, counts.open, counts.overdue]
    assert (counts.open, counts.overdue) == (4, 3)


def test_a_figure_with_nothing_to_chart_says_so_instead_of_empty_axes(compliance_client, customer):
    """Tasks ran and none needed a retry: "Failures per store" says that in words; a step still
    waiting for staff is charted in "Waiting on manual steps" by the hours it has waited."""
    from dsr.models import StoreTask

    run_pending_tasks(file_request(type="access", user=customer))
    page = compliance_client.get("/dashboard/metrics/").content.decode()
    assert "No store task needed a retry or failed in this period." in page
    assert 'id="chart-store_failures"' not in page
    assert metrics.store_failures(metrics.months_back(1)).rows  # the table still lists them

    add_store("by-hand", "dsr.connectors.manual.ManualConnector", config={"actions": ["export"]})
    run_pending_tasks(file_request(type="access", email="guest@example.com", user=customer))
    assert StoreTask.objects.filter(state="waiting").exists()
    waits = metrics.manual_waits(metrics.months_back(1))
    assert waits.datasets[-1]["label"] == "Oldest waiting (hours)"
    assert waits.datasets[-1]["data"] == [0.0]  # waiting since just now: charted, not left out
    page = compliance_client.get("/dashboard/metrics/").content.decode()
    # Waiting since just now: zero hours would draw empty axes; the sentence says why.
    assert 'id="chart-manual_waits"' not in page
    assert "No step has waited long enough to show in hours yet" in page


def test_the_yearly_figures_count_opt_outs_of_selling_or_sharing(customer):
    """Every withdrawal of a use Global Privacy Control covers, however it was made; a use it
    does not cover, and a grant, are not opt-outs."""
    from tests.consent.conftest import record

    this_year = timezone.now().year
    record(customer, "partner_sharing", True, source="preference_centre")
    record(customer, "partner_sharing", False, source="preference_centre")
    record(customer, "marketing", False, source="gpc")
    record(customer, "analytics", False, source="banner")  # not covered by the signal

    rows = {row.type: row for row in metrics.yearly(this_year, "ccpa")}
    opt_outs = rows["opt_out_sharing"]
    assert (opt_outs.received, opt_outs.complied_whole, opt_outs.denied) == (2, 2, 0)
    assert opt_outs.median_days == 0.0 and rows["all"].received == 0
    previous = {row.type: row for row in metrics.yearly(this_year - 1)}
    assert previous["opt_out_sharing"].received == 0
