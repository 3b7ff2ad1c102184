"""The figures compliance officers report: volumes, durations, timeliness, backlog, store
failures and manual waits per month, and the yearly figures regulators ask for.

Every figure is computed by the database (grouped counts, conditional aggregates, and window
functions for percentiles), never by looping over requests in Python, and works on PostgreSQL
and on SQLite (the embedded default). Percentiles are continuous (as PostgreSQL's
``percentile_cont``): with the values sorted, the p-th percentile lies at position
1 + p * (n - 1), interpolated between its neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import connection
from django.db.models import (
    CharField,
    Count,
    Expression,
    F,
    FloatField,
    Func,
    Min,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import (
    OPEN_STATES,
    DataSubjectRequest,
    IdentityMethod,
    Regime,
    RejectionReason,
    RequestType,
    State,
    StoreTask,
    TaskState,
)
from .labels import REJECTION_LABELS, type_label

COMPLETED = (State.COMPLETED, State.PARTIALLY_COMPLETED)
ANSWERED = (State.COMPLETED, State.PARTIALLY_COMPLETED, State.REJECTED)
PERIODS = (6, 12, 24, 36)


class DaysBetween(Func):
    """The days (with fractions) from the first datetime expression to the second."""

    output_field = FloatField()
    # PostgreSQL: the interval's seconds; SQLite below.
    template = "(EXTRACT(EPOCH FROM (%(expressions)s)) / 86400.0)"
    arg_joiner = " - "

    def __init__(self, start: Any, end: Any) -> None:
        super().__init__(end, start)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return super().as_sql(
            compiler,
            connection,
            template="(julianday(%(expressions)s))",
            arg_joiner=") - julianday(",
            **extra_context,
        )


@dataclass(frozen=True)
class Spread:
    n: int
    mean: float | None
    median: float | None
    p90: float | None


_FRACTIONS = {"median": (1, 2), "p90": (9, 10)}


def spreads(queryset: QuerySet[Any], group: Expression | F, value: Expression) -> dict[str, Spread]:
    """Return, per value of ``group``, the count, mean, median and 90th percentile of ``value``
    over ``queryset``'s rows, in one statement (window functions rank the values per group;
    the interpolation between two neighbours per group is the only arithmetic left)."""
    inner = queryset.order_by().annotate(g=group, x=value).filter(x__isnull=False).values("g", "x")
    sql, params = inner.query.sql_with_params()
    picks = []
    for name, (num, den) in _FRACTIONS.items():
        position = f"({num} * (n - 1)) / {den}"  # integer division: floor for n >= 1
        picks.append(f"MAX(CASE WHEN rn = 1 + {position} THEN x END) AS {name}_lo")
        picks.append(f"MAX(CASE WHEN rn = 2 + {position} THEN x END) AS {name}_hi")
    ranked = (
        "SELECT g, x, ROW_NUMBER() OVER (PARTITION BY g ORDER BY x) AS rn, "
        "COUNT(*) OVER (PARTITION BY g) AS n FROM v"
    )
    columns = ", ".join(picks)
    # Only the ORM's own SQL and constants go into the text; values are parameters.
    head = f"WITH v AS ({sql}), r AS ({ranked}) "
    statement = head + f"SELECT g, MAX(n), AVG(x), {columns} FROM r GROUP BY g"  # noqa: S608  # nosec B608
    result: dict[str, Spread] = {}
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        for row in cursor.fetchall():
            key, n, mean = _group_key(row[0]), int(row[1]), row[2]
            values: dict[str, float] = {}
            for index, (name, (num, den)) in enumerate(_FRACTIONS.items()):
                lo, hi = row[3 + 2 * index], row[4 + 2 * index]
                fraction = ((num * (n - 1)) % den) / den
                lo = float(lo)
                values[name] = lo + fraction * ((float(hi) if hi is not None else lo) - lo)
            result[key] = Spread(n, float(mean), values["median"], values["p90"])
    return result


def _group_key(value: Any) -> str:
    """Return a group's key as text: months as "YYYY-MM" (a datetime from PostgreSQL, text
    from SQLite), anything else as it is."""
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m")
    text = str(value)
    if len(text) >= 7 and text[4] == "-" and text[:4].isdigit():
        return text[:7]
    return text


def _month(value: Any) -> str:
    return _group_key(value)


# --- the monthly figures ------------------------------------------------------------------------


@dataclass
class Metric:
    """One figure: its table (also its CSV) and how to chart it."""

    key: str
    title: str
    description: str
    columns: list[str]
    rows: list[list[Any]]
    chart_type: str = "bar"
    labels: list[str] = field(default_factory=list)
    datasets: list[dict[str, Any]] = field(default_factory=list)
    unit: str = ""
    horizontal: bool = False
    #: Said instead of a chart whose every value is zero or missing (empty axes look broken).
    nothing_to_chart: str = ""

    @property
    def charted(self) -> bool:
        """Whether the chart would show anything: some value is neither zero nor missing."""
        return any(value for dataset in self.datasets for value in dataset["data"])

    def chart(self) -> dict[str, Any]:
        return {
            "id": self.key,
            "type": self.chart_type,
            "labels": self.labels,
            "datasets": self.datasets,
            "unit": self.unit,
            "horizontal": self.horizontal,
        }


def months_back(count: int, *, now: datetime | None = None) -> list[datetime]:
    """Return the first instants of the last ``count`` months, oldest first (this one last)."""
    now = now or timezone.now()
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return [first - relativedelta(months=back) for back in range(count - 1, -1, -1)]


def _labels(months: Sequence[datetime]) -> list[str]:
    return [month.strftime("%Y-%m") for month in months]


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def volume(months: Sequence[datetime]) -> Metric:
    """Requests received, completed (in whole or in part) and rejected, per month and type."""
    start = months[0]
    received = (
        DataSubjectRequest.objects.filter(received_at__gte=start)
        .exclude(state=State.DUPLICATE)
        .annotate(month=TruncMonth("received_at"))
        .values("month", "type")
        .annotate(n=Count("pk"))
        .order_by()
    )
    answered = (
        DataSubjectRequest.objects.filter(completed_at__gte=start, state__in=ANSWERED)
        .annotate(month=TruncMonth("completed_at"))
        .values("month", "type")
        .annotate(
            completed=Count("pk", filter=Q(state__in=COMPLETED)),
            rejected=Count("pk", filter=Q(state=State.REJECTED)),
        )
        .order_by()
    )
    table: dict[tuple[str, str], list[int]] = {}
    for got in received:
        table.setdefault((_month(got["month"]), got["type"]), [0, 0, 0])[0] = got["n"]
    for done in answered:
        cell = table.setdefault((_month(done["month"]), done["type"]), [0, 0, 0])
        cell[1], cell[2] = done["completed"], done["rejected"]
    labels = _labels(months)
    rows = [
        [month, type_label(kind), *table[(month, kind)]]
        for month in labels
        for kind in RequestType.values
        if (month, kind) in table
    ]
    totals = {label: [0, 0, 0] for label in labels}
    for (month, _kind), cell in table.items():
        if month in totals:
            totals[month] = [a + b for a, b in zip(totals[month], cell, strict=True)]
    return Metric(
        key="volume",
        title=_("Requests per month"),
        description=_("Received, completed (in whole or in part) and rejected, by type."),
        columns=[_("Month"), _("Type"), _("Received"), _("Completed"), _("Rejected")],
        rows=rows,
        labels=labels,
        datasets=[
            {"label": _("Received"), "data": [totals[m][0] for m in labels]},
            {"label": _("Completed"), "data": [totals[m][1] for m in labels]},
            {"label": _("Rejected"), "data": [totals[m][2] for m in labels]},
        ],
    )


def durations(months: Sequence[datetime]) -> Metric:
    """Median and 90th percentile of the days from receipt to completion, per month of
    completion. Opt-outs (which need no identity check, and take effect as they are filed) are
    left out: their seconds would hide how long the requests that need work take."""
    completed = DataSubjectRequest.objects.filter(
        completed_at__gte=months[0], state__in=COMPLETED
    ).exclude(identity_method=IdentityMethod.NOT_REQUIRED)
    by_month = spreads(
        completed, TruncMonth("completed_at"), DaysBetween(F("received_at"), F("completed_at"))
    )
    labels = _labels(months)
    rows = []
    for month in labels:
        spread = by_month.get(month)
        if spread:
            rows.append(
                [month, spread.n, _round(spread.median), _round(spread.p90), _round(spread.mean)]
            )
    return Metric(
        key="durations",
        title=_("Days to complete"),
        description=_(
            "Median and 90th percentile of the days from receipt to completion, opt-outs left "
            "out (they take effect at once)."
        ),
        columns=[_("Month"), _("Completed"), _("Median days"), _("90th percentile"), _("Mean")],
        rows=rows,
        chart_type="line",
        labels=labels,
        datasets=[
            {
                "label": _("Median days"),
                "data": [_round(by_month[m].median) if m in by_month else None for m in labels],
            },
            {
                "label": _("90th percentile"),
                "data": [_round(by_month[m].p90) if m in by_month else None for m in labels],
            },
        ],
        unit=_("days"),
    )


def on_time(months: Sequence[datetime]) -> Metric:
    """The share of requests answered (completed or rejected) by their deadline, per month of
    the answer."""
    rows_by_month = {
        _month(row["month"]): row
        for row in DataSubjectRequest.objects.filter(
            completed_at__gte=months[0], state__in=ANSWERED
        )
        .annotate(month=TruncMonth("completed_at"))
        .values("month")
        .annotate(
            answered=Count("pk"), in_time=Count("pk", filter=Q(completed_at__lte=F("due_at")))
        )
        .order_by()
    }
    labels = _labels(months)
    rows = []
    rates: list[float | None] = []
    for month in labels:
        row = rows_by_month.get(month)
        rate = round(100 * row["in_time"] / row["answered"], 1) if row else None
        rates.append(rate)
        if row:
            rows.append([month, row["answered"], row["in_time"], rate])
    return Metric(
        key="on_time",
        title=_("Answered on time"),
        description=_(
            "Share of the requests answered in a month that were answered by their deadline."
        ),
        columns=[_("Month"), _("Answered"), _("On time"), _("On-time rate (%)")],
        rows=rows,
        chart_type="line",
        labels=labels,
        datasets=[{"label": _("On-time rate (%)"), "data": rates}],
        unit="%",
    )


def backlog(months: Sequence[datetime], *, now: datetime | None = None) -> Metric:
    """The requests open at the end of each month (now, for this month), in one statement.

    Open as the queue counts them: a request not answered yet, and one in an open state now
    (partially completed, or running again after a retry) for every month since it came in,
    whatever its earlier completion date says; overdue unless its clock was paused then."""
    now = now or timezone.now()
    ends = [month + relativedelta(months=1) for month in months]
    ends[-1] = min(ends[-1], now)
    open_now = Q(state__in=OPEN_STATES)
    still_open = [
        open_now | Q(completed_at__isnull=True) | Q(completed_at__gte=end) for end in ends
    ]
    counted = DataSubjectRequest.objects.exclude(state=State.DUPLICATE).aggregate(
        **{
            f"open{index}": Count("pk", filter=Q(received_at__lt=end) & still_open[index])
            for index, end in enumerate(ends)
        },
        **{
            f"late{index}": Count(
                "pk",
                filter=Q(received_at__lt=end, due_at__lt=end)
                & still_open[index]
                & (Q(clock_paused_at__isnull=True) | Q(clock_paused_at__gte=end)),
            )
            for index, end in enumerate(ends)
        },
    )
    labels = _labels(months)
    open_counts = [counted[f"open{index}"] for index in range(len(ends))]
    overdue_counts = [counted[f"late{index}"] for index in range(len(ends))]
    return Metric(
        key="backlog",
        title=_("Open backlog"),
        description=_(
            "Requests open at the end of each month (for this month: now), and how many of "
            "them were overdue."
        ),
        columns=[_("Month"), _("Open"), _("Of which overdue")],
        rows=[list(row) for row in zip(labels, open_counts, overdue_counts, strict=True)],
        chart_type="line",
        labels=labels,
        datasets=[
            {"label": _("Open"), "data": open_counts},
            {"label": _("Of which overdue"), "data": overdue_counts},
        ],
    )


def store_failures(months: Sequence[datetime]) -> Metric:
    """Per store: the tasks of the period, how many needed a retry, how many failed for good
    (also those that staff retried since, and how many of those)."""
    rows_by_store = list(
        StoreTask.objects.filter(created_at__gte=months[0])
        .values("store__name")
        .annotate(
            tasks=Count("pk"),
            retried=Count("pk", filter=Q(attempts__gt=1) | Q(attempts_before_retries__gt=1)),
            failed=Count("pk", filter=Q(state=TaskState.FAILED) | Q(staff_retries__gt=0)),
            by_staff=Count("pk", filter=Q(staff_retries__gt=0)),
        )
        .order_by("store__name")
    )
    rows = []
    for row in rows_by_store:
        rate = round(100 * row["failed"] / row["tasks"], 1) if row["tasks"] else 0.0
        rows.append(
            [
                row["store__name"],
                row["tasks"],
                row["retried"],
                row["failed"],
                row["by_staff"],
                rate,
            ]
        )
    return Metric(
        key="store_failures",
        title=_("Failures per store"),
        description=_(
            "Store tasks of the period, those that needed a retry, and those that failed for "
            "good, whether or not staff retried them since."
        ),
        columns=[
            _("Store"),
            _("Tasks"),
            _("Needed a retry"),
            _("Failed"),
            _("Of which retried by staff"),
            _("Failure rate (%)"),
        ],
        rows=rows,
        labels=[row[0] for row in rows],
        # Retries too: a store that fails often but recovers needs looking at before it fails
        # for good.
        datasets=[
            {"label": _("Needed a retry"), "data": [row[2] for row in rows]},
            {"label": _("Failed"), "data": [row[3] for row in rows]},
        ],
        horizontal=True,
        nothing_to_chart=_("No store task needed a retry or failed in this period."),
    )


def manual_waits(months: Sequence[datetime], *, now: datetime | None = None) -> Metric:
    """Per store: how long manual steps waited for staff (hours from the step's start to its
    completion), and the steps still waiting."""
    now = now or timezone.now()
    done = StoreTask.objects.filter(
        finished_at__gte=months[0], completed_by__isnull=False, started_at__isnull=False
    )
    waited = spreads(done, F("store__name"), DaysBetween(F("started_at"), F("finished_at")))
    still: dict[str, dict[str, Any]] = {
        row["store__name"]: dict(row)
        for row in StoreTask.objects.filter(state=TaskState.WAITING)
        .values("store__name")
        .annotate(waiting=Count("pk"), since=Min("started_at"))
        .order_by()
    }
    rows = []
    for name in sorted(set(waited) | set(still)):
        spread = waited.get(name)
        since = still.get(name, {}).get("since")
        rows.append(
            [
                name,
                spread.n if spread else 0,
                _round(spread.median * 24) if spread and spread.median is not None else None,
                _round(spread.p90 * 24) if spread and spread.p90 is not None else None,
                still.get(name, {}).get("waiting", 0),
                _round((now - since).total_seconds() / 3600) if since else None,
            ]
        )
    return Metric(
        key="manual_waits",
        title=_("Waiting on manual steps"),
        description=_("Hours manual steps waited for staff, and the steps waiting now."),
        columns=[
            _("Store"),
            _("Steps done"),
            _("Median hours"),
            _("90th percentile hours"),
            _("Waiting now"),
            _("Oldest waiting (hours)"),
        ],
        rows=rows,
        labels=[row[0] for row in rows],
        datasets=[
            {"label": _("Median hours"), "data": [row[2] for row in rows]},
            {"label": _("90th percentile hours"), "data": [row[3] for row in rows]},
            # The steps waiting now count too: a queue nobody works on has no completions.
            {"label": _("Oldest waiting (hours)"), "data": [row[5] for row in rows]},
        ],
        unit=_("hours"),
        horizontal=True,
        nothing_to_chart=_(
            "No step has waited long enough to show in hours yet: the table lists them."
        ),
    )


METRICS = {
    "volume": volume,
    "durations": durations,
    "on_time": on_time,
    "backlog": backlog,
    "store_failures": store_failures,
    "manual_waits": manual_waits,
}
METRIC_TITLES = {
    "volume": gettext_lazy("Requests per month"),
    "durations": gettext_lazy("Days to complete"),
    "on_time": gettext_lazy("Answered on time"),
    "backlog": gettext_lazy("Open backlog"),
    "store_failures": gettext_lazy("Failures per store"),
    "manual_waits": gettext_lazy("Waiting on manual steps"),
}


def metric(key: str, months: int) -> Metric:
    """Return one figure over the last ``months`` months."""
    return METRICS[key](months_back(months))


def all_metrics(months: int) -> list[Metric]:
    """Return every monthly figure over the last ``months`` months."""
    window = months_back(months)
    return [compute(window) for compute in METRICS.values()]


# --- the yearly figures for regulators ----------------------------------------------------------


@dataclass(frozen=True)
class YearRow:
    type: str
    label: str
    received: int
    complied_whole: int
    complied_part: int
    denied: int
    denied_by_reason: dict[str, int]
    not_verified: int
    withdrawn: int
    still_open: int
    median_days: float | None
    mean_days: float | None


def yearly(year: int, law: str = "") -> list[YearRow]:
    """Return, per request type and in total, the figures regulators ask for about the
    requests received in ``year`` (under ``law``, a :class:`Regime`, or all): received,
    complied with in whole or in part, denied (with the reason), and the median and mean days
    to respond (to complete or deny)."""
    start = datetime(year, 1, 1, tzinfo=timezone.get_current_timezone())
    end = datetime(year + 1, 1, 1, tzinfo=timezone.get_current_timezone())
    received = DataSubjectRequest.objects.filter(
        received_at__gte=start, received_at__lt=end
    ).exclude(state=State.DUPLICATE)
    if law:
        received = received.filter(regime=law)
    reasons = RejectionReason.values
    counts: dict[str, dict[str, Any]] = {
        row["type"]: dict(row)
        for row in received.values("type")
        .annotate(
            received=Count("pk"),
            whole=Count("pk", filter=Q(state=State.COMPLETED)),
            part=Count("pk", filter=Q(state=State.PARTIALLY_COMPLETED)),
            denied=Count("pk", filter=Q(state=State.REJECTED)),
            not_verified=Count("pk", filter=Q(state=State.CLOSED_UNVERIFIED)),
            withdrawn=Count("pk", filter=Q(state=State.CANCELLED)),
            **{
                f"reason_{reason}": Count(
                    "pk", filter=Q(state=State.REJECTED, rejection_reason=reason)
                )
                for reason in reasons
            },
        )
        .order_by()
    }
    answered = received.filter(state__in=ANSWERED, completed_at__isnull=False)
    days = DaysBetween(F("received_at"), F("completed_at"))
    by_type = spreads(answered, F("type"), days)
    overall = spreads(answered, Value("all", output_field=CharField()), days)

    def row_for(kind: str, label: str, data: dict[str, Any], spread: Spread | None) -> YearRow:
        whole, part, denied = data.get("whole", 0), data.get("part", 0), data.get("denied", 0)
        not_verified, withdrawn = data.get("not_verified", 0), data.get("withdrawn", 0)
        total = data.get("received", 0)
        return YearRow(
            type=kind,
            label=label,
            received=total,
            complied_whole=whole,
            complied_part=part,
            denied=denied,
            denied_by_reason={reason: data.get(f"reason_{reason}", 0) for reason in reasons},
            not_verified=not_verified,
            withdrawn=withdrawn,
            still_open=total - whole - denied - not_verified - withdrawn - part,
            median_days=_round(spread.median) if spread else None,
            mean_days=_round(spread.mean) if spread else None,
        )

    rows = [
        row_for(kind, type_label(kind), counts.get(kind, {}), by_type.get(kind))
        for kind in RequestType.values
    ]
    totals: dict[str, Any] = {}
    for data in counts.values():
        for name, value in data.items():
            if name != "type":
                totals[name] = totals.get(name, 0) + value
    rows.append(row_for("all", _("All requests"), totals, overall.get("all")))
    if law in ("", Regime.CCPA):
        rows.append(_opt_outs_of_sharing(start, end, reasons))
    return rows


#: The yearly figures' column for opt-outs of selling or sharing (CCPA regulations § 7102).
OPT_OUT_SHARING = "opt_out_sharing"


def _opt_outs_of_sharing(start: datetime, end: datetime, reasons: Sequence[str]) -> YearRow:
    """Opt-outs of selling or sharing in the year: every withdrawal, recorded in the consent
    ledger, of a use Global Privacy Control covers (the "Do Not Sell or Share" page, cookie
    choices, the preference centre, the signal itself). Each takes effect when it is made: all
    complied with, at once. Where a visitor lives is not known, so all are counted. One range
    scan per use, by the ledger's (purpose, time) index."""
    from consent.models import ConsentEvent

    count = ConsentEvent.objects.filter(
        purpose__honours_gpc=True, granted=False, occurred_at__gte=start, occurred_at__lt=end
    ).count()
    return YearRow(
        type=OPT_OUT_SHARING,
        label=_("Opt-outs of selling or sharing"),
        received=count,
        complied_whole=count,
        complied_part=0,
        denied=0,
        denied_by_reason=dict.fromkeys(reasons, 0),
        not_verified=0,
        withdrawn=0,
        still_open=0,
        median_days=0.0 if count else None,
        mean_days=0.0 if count else None,
    )


def yearly_columns() -> list[str]:
    return [
        _("Type"),
        _("Received"),
        _("Complied with in whole"),
        _("Complied with in part"),
        _("Denied"),
        *[
            _("Denied: %(reason)s") % {"reason": REJECTION_LABELS[reason]}
            for reason in RejectionReason.values
        ],
        _("Closed: identity not confirmed"),
        _("Withdrawn by the person"),
        _("Still open"),
        _("Median days to respond"),
        _("Mean days to respond"),
    ]


def yearly_table(rows: Sequence[YearRow]) -> list[list[Any]]:
    return [
        [
            row.label,
            row.received,
            row.complied_whole,
            row.complied_part,
            row.denied,
            *row.denied_by_reason.values(),
            row.not_verified,
            row.withdrawn,
            row.still_open,
            row.median_days,
            row.mean_days,
        ]
        for row in rows
    ]


def first_year() -> int:
    """Return the year of the oldest request (this year if there is none)."""
    oldest = (
        DataSubjectRequest.objects.order_by("received_at")
        .values_list("received_at", flat=True)
        .first()
    )
    return (oldest or timezone.now()).year
