"""What a signed-in person typed into a form, kept when their session ended before they sent it.

A form written signed in carries ``DRAFT_FIELD``, a keyed hash of the account (not its id).
Sent after the session ended, what it held is kept in the (server-side) session for
``DRAFT_SECONDS`` and the person is asked to sign in; the page they sent it from fills it in
again, for the same account only: someone else signing in next in the same browser finds
nothing. Nothing of it goes into a URL or a log line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from django_ratelimit.core import is_ratelimited
from django_stubs_ext import StrOrPromise

from .pseudonymise import keyed_hash, ratelimit_client

#: The hidden field of a form written signed in: the account's mark (``draft_mark``).
DRAFT_FIELD = "as_account"
#: Seconds a draft is kept for the person to sign in again.
DRAFT_SECONDS = 60 * 60
#: Characters kept of one value (more than any field of the portal's forms takes).
_MAX_CHARS = 5000
#: Pages whose drafts one session keeps (the newest): the person's open tabs, not whatever
#: someone sends to every address of an address book's pages without signing in.
DRAFTS_KEPT = 5
#: Characters of one draft's values together: more than any form of the portal holds filled in
#: (its longest field takes 5,000), far less than what a script could send.
_MAX_DRAFT_CHARS = 20_000
#: Drafts one client address may leave per hour: each without a session starts a new one.
DRAFT_RATE = "20/h"
_SESSION_PREFIX = "form-draft:"

_View = Callable[..., HttpResponseBase]


def draft_mark(user: Any) -> str:
    """Return the value of ``DRAFT_FIELD`` in the forms that ``user`` writes signed in."""
    return keyed_hash(str(user.pk), purpose="form-draft")


def draft_keep(
    request: HttpRequest, *, values: dict[str, Any], message: str
) -> HttpResponseRedirect:
    """Keep ``values``, sent to ``request.path`` after the session ended, for the account that
    wrote them; tell the person ``message`` and send them to sign in, and back to that page.
    The session keeps the ``DRAFTS_KEPT`` newest drafts, none kept too long. A draft larger
    than any form, or beyond ``DRAFT_RATE`` for the client's address, is not kept: the person
    is told to send the form again once signed in."""
    too_big = len(json.dumps(values, ensure_ascii=False)) > _MAX_DRAFT_CHARS
    if too_big or is_ratelimited(
        request, group="form-draft", key=ratelimit_client, rate=DRAFT_RATE, increment=True
    ):
        messages.info(
            request,
            _("You were signed out. Sign in again, then fill in the form again and send it."),
        )
        return redirect_to_login(request.path)
    now = time.time()
    key = _SESSION_PREFIX + request.path
    others = sorted(
        (draft.get("until", 0) if isinstance(draft, dict) else 0, name)
        for name, draft in request.session.items()
        if name.startswith(_SESSION_PREFIX) and name != key
    )
    for position, (until, name) in enumerate(reversed(others)):
        if position >= DRAFTS_KEPT - 1 or until < now:
            del request.session[name]
    request.session[key] = {
        "mark": request.POST.get(DRAFT_FIELD, "")[:128],
        "until": now + DRAFT_SECONDS,
        "values": values,
    }
    if settings.SESSION_COOKIE_AGE < DRAFT_SECONDS:
        # This session holds nobody signed in: it waits as long as the draft for the person
        # to sign in (which gives the session the idle timeout again, ``drafts_forget_others``).
        request.session.set_expiry(DRAFT_SECONDS)
    messages.info(request, message)
    return redirect_to_login(request.path)


def draft_take(request: HttpRequest) -> dict[str, Any] | None:
    """Return (and forget) what the signed-in person typed on this page before their session
    ended, or None: nothing kept, kept too long ago, or written by another account."""
    kept = request.session.pop(_SESSION_PREFIX + request.path, None)
    if (
        not isinstance(kept, dict)
        or kept.get("until", 0) < time.time()
        or kept.get("mark") != draft_mark(request.user)
    ):
        return None
    values: dict[str, Any] = kept["values"]
    return values


def drafts_forget_others(request: HttpRequest, user: Any) -> None:
    """Forget the drafts in ``request``'s session that ``user``, signing in with it, did not
    write (or that were kept too long): the session keeps its data through signing in, and
    another account's draft must not stay in this one's session, where that person's erasure,
    which ends their own sessions, would not find it. A session kept longer for a draft gets
    the idle timeout of a signed-in one again."""
    if request.session.get_expiry_age() == DRAFT_SECONDS != settings.SESSION_COOKIE_AGE:
        request.session.set_expiry(None)  # set by ``draft_keep``: signed in, the idle timeout
    mark = draft_mark(user)
    now = time.time()
    for key, kept in list(request.session.items()):
        if key.startswith(_SESSION_PREFIX) and (
            not isinstance(kept, dict) or kept.get("mark") != mark or kept.get("until", 0) < now
        ):
            del request.session[key]


def form_values(request: HttpRequest, fields: Iterable[str]) -> dict[str, str]:
    """Return the posted value of each of ``fields`` ("" for a missing one, as a checkbox
    left empty), cut to a length no field takes."""
    return {name: request.POST.get(name, "")[:_MAX_CHARS] for name in fields}


def login_required_keeping_draft(
    fields: Iterable[str], message: StrOrPromise
) -> Callable[[_View], _View]:
    """Like ``login_required``; and a form written signed in (``DRAFT_FIELD``) but sent after
    the session ended keeps ``fields`` for the page to fill in again after signing in, and
    says ``message`` (a lazy translation) on the sign-in page."""
    names = tuple(fields)

    def decorator(view: _View) -> _View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.user.is_authenticated:
                return view(request, *args, **kwargs)
            if request.method == "POST" and request.POST.get(DRAFT_FIELD):
                return draft_keep(request, values=form_values(request, names), message=str(message))
            return redirect_to_login(request.get_full_path())

        return wrapped

    return decorator
