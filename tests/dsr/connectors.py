"""Connectors used only by tests: a store that fails on demand, one that waits for staff, one
that is slow, and one that restricts processing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from django.core.cache import cache

from dsr.connectors.base import (
    Connector,
    EraseResult,
    ExportResult,
    ExportSink,
    LocateResult,
    NotifyResult,
    Pending,
    PermanentStoreError,
    RestrictResult,
    Subject,
    TemporaryStoreError,
)


class FlakyConnector(Connector):
    """Fails ``config["fail_times"]`` times (temporary, or permanent with ``permanent``), then
    works. Counts its calls in the cache so that separate worker processes share the count."""

    kind: ClassVar[str] = "test-flaky"
    supports: ClassVar[frozenset[str]] = frozenset({"locate", "export", "erase"})

    def _maybe_fail(self) -> None:
        key = f"flaky-calls-{self.store_key}"
        cache.add(key, 0, 3600)
        calls = cache.incr(key)
        if calls <= int(self.config.get("fail_times", 0)):
            if self.config.get("permanent"):
                raise PermanentStoreError("the test store refuses")
            raise TemporaryStoreError("the test store is down")

    def locate(self, subject: Subject) -> LocateResult:
        self._maybe_fail()
        return LocateResult({"things": 1})

    def export(self, subject: Subject, sink: ExportSink) -> ExportResult:
        self._maybe_fail()
        count = sink.table("things", ["owner", "thing"], [(subject.email, "a flaky thing")])
        return ExportResult({"things": count})

    def erase(self, subject: Subject) -> EraseResult:
        self._maybe_fail()
        return EraseResult(deleted={"things": 1}, remaining={"things": 0})


class OrderBookConnector(Connector):
    """Knows which order number belongs to which address (``config["orders"]``): it confirms
    a guest's identity by it, and holds nothing else."""

    kind: ClassVar[str] = "test-orders"
    supports: ClassVar[frozenset[str]] = frozenset()

    def confirm_identity(self, subject: Subject) -> bool:
        return (self.config.get("orders") or {}).get(subject.email) in subject.order_numbers


class StaffStepConnector(Connector):
    """A store without an API: every action is a step for staff."""

    kind: ClassVar[str] = "test-manual"
    supports: ClassVar[frozenset[str]] = frozenset({"export", "erase"})

    def export(self, subject: Subject, sink: ExportSink) -> Pending:
        return Pending("manual", "Look the person up in the test system.")

    def erase(self, subject: Subject) -> Pending:
        return Pending("manual", "Delete the person in the test system.")


class SlowConnector(Connector):
    """Takes ``config["seconds"]`` to do anything, then records that its effect happened, so
    that a test can kill the worker in the middle and count effects afterwards."""

    kind: ClassVar[str] = "test-slow"
    supports: ClassVar[frozenset[str]] = frozenset({"export", "erase"})

    def _mark(self, what: str, subject: Subject, *, once: bool = False) -> None:
        # Markers go to files when configured: the fault tests restart Redis, and with it the
        # cache, so they count outside it. ``once`` markers model the store's state: like any
        # real store, applying the same erasure again finds nothing left to change.
        folder = self.config.get("marker_dir")
        if folder:
            import os

            path = os.path.join(folder, f"{what}-{subject.email}")
            if once:
                try:
                    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                    with open(path, "a") as marker:
                        marker.write("x\n")
                except FileExistsError:
                    pass
                return
            with open(path, "a") as marker:
                marker.write("x\n")
        else:
            cache.add(f"slow-{what}-{self.store_key}", 0, 3600)
            cache.incr(f"slow-{what}-{self.store_key}")

    def _work(self, effect: str, subject: Subject) -> None:
        import time

        self._mark("started", subject)
        time.sleep(float(self.config.get("seconds", 3)))
        self._mark("runs", subject)
        self._mark(effect, subject, once=True)

    def export(self, subject: Subject, sink: ExportSink) -> ExportResult:
        self._work("exports", subject)
        count = sink.table("slow_things", ["owner"], [(subject.email,)])
        return ExportResult({"slow_things": count})

    def erase(self, subject: Subject) -> EraseResult:
        self._work("erasures", subject)
        return EraseResult(deleted={"slow_things": 1}, remaining={"slow_things": 0})


class RestrictingConnector(Connector):
    """Marks the person restricted, or lifts it, in the cache (shared with worker processes):
    :func:`restricted` says whether they are. Fails the first ``config["fail_lifts"]`` lifts
    for good, and every restriction if ``config["fail_restricts"]``; holds nobody's records
    if ``config["holds_nothing"]``."""

    kind: ClassVar[str] = "test-restricting"
    supports: ClassVar[frozenset[str]] = frozenset({"restrict"})

    def restrict(self, subject: Subject, *, lift: bool = False) -> RestrictResult:
        if lift:
            key = f"restricting-lifts-{self.store_key}"
            cache.add(key, 0, 3600)
            if cache.incr(key) <= int(self.config.get("fail_lifts", 0)):
                raise PermanentStoreError("the test store refuses to lift")
        elif self.config.get("fail_restricts"):
            raise PermanentStoreError("the test store refuses to restrict")
        cache.set(f"restricted-{self.store_key}-{subject.email}", not lift, 3600)
        if self.config.get("holds_nothing"):
            return RestrictResult({}, lifted=lift)
        return RestrictResult({"profiles": 1}, lifted=lift)


def restricted(store_key: str, email: str) -> bool | None:
    """Whether :class:`RestrictingConnector` ``store_key`` holds ``email`` restricted (None:
    it was never asked)."""
    value: bool | None = cache.get(f"restricted-{store_key}-{email}")
    return value


class RecipientConnector(Connector):
    """A recipient Inper may have shared data with: it can only be told of a request. Counts
    what it was told in the cache (:func:`told`)."""

    kind: ClassVar[str] = "test-recipient"
    supports: ClassVar[frozenset[str]] = frozenset({"notify"})

    def notify(
        self, subject: Subject, *, request_type: str, changes: Mapping[str, str] | None = None
    ) -> NotifyResult:
        cache.set(f"told-{self.store_key}-{subject.email}", request_type, 3600)
        return NotifyResult(reference="told")


def told(store_key: str, email: str) -> str | None:
    """The request type :class:`RecipientConnector` ``store_key`` was told of for ``email``."""
    value: str | None = cache.get(f"told-{store_key}-{email}")
    return value
