"""Helpers for the consent tests."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test import Client

from consent import services
from consent.models import ConsentEvent


def record(
    user_or_subject: Any, key: str, granted: bool, source: str = "api", **extra: Any
) -> ConsentEvent:
    subject = (
        user_or_subject
        if isinstance(user_or_subject, services.ConsentSubject)
        else services.subject_for_user(user_or_subject)
    )
    return services.consent_record(
        subject=subject, purpose_key=key, granted=granted, source=source, actor=None, **extra
    )


def at_once(work: Callable[[int], Any], count: int) -> list[BaseException]:
    """Run ``work(0)`` ... ``work(count - 1)`` in threads released together (each with its own
    database connection); return what they raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            work(n)
        except Exception as error:  # reported to the caller
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def history_rows(client: Client) -> list[tuple[str, str, str]]:
    """The rows of the signed-in person's history page as they read them: (what, choice, how),
    newest first."""
    page = client.get("/privacy/history/").content.decode()
    rows = re.findall(r"<tr>\s*<td[^>]*>(.*?)</tr>", page, re.S)
    cells = [[re.sub(r"<[^>]+>", "", cell).strip() for cell in row.split("</td>")] for row in rows]
    return [(row[1], row[2], row[3]) for row in cells]
