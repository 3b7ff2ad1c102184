"""Prepare the load mix (``bench/load.sh``): 50 signed-in customers with sessions and CSRF
tokens, an API token, and the purpose the consent toggle switches. Writes
``$TMPDIR/inper-load/users.lua`` for the wrk scripts.

    . bench/env.sh && BENCH_DATABASE_URL=... .venv/bin/python bench/load_setup.py
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402

from accounts.models import User  # noqa: E402
from accounts.sessions import SessionStore  # noqa: E402  (the portal's engine, SESSION_ENGINE)
from consent.api.authentication import api_token_issue  # noqa: E402
from consent.catalogue import catalogue  # noqa: E402
from consent.models import ApiClient, PurposeKind  # noqa: E402

OUT = Path(os.environ.get("TMPDIR", "/tmp")) / "inper-load"
USERS = int(os.environ.get("LOAD_USERS", "50"))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    lines = []
    for n in range(USERS):
        user, created = User.objects.get_or_create(email=f"load-{n}@example.com")
        if created:
            user.set_unusable_password()
            user.save()
        session = SessionStore()
        now = time.time()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session["account_authentication_methods"] = [{"method": "password", "at": now}]
        session["account_authentication_methods_user"] = str(user.pk)
        session["_portal_auth_at"] = now
        session["_portal_seen_at"] = now
        session.set_expiry(settings.SESSION_ABSOLUTE_TIMEOUT)
        session.save()
        csrf = secrets.token_urlsafe(24)[:32].replace("-", "a").replace("_", "b")
        lines.append(f'  {{id = {user.pk}, session = "{session.session_key}", csrf = "{csrf}"}},')
    client, _ = ApiClient.objects.get_or_create(
        name="load", defaults={"scopes": ["consent:read", "consent:write"]}
    )
    _row, token = api_token_issue(client=client)
    toggle = next(
        purpose.key
        for purpose in catalogue().of_kind(PurposeKind.PROCESSING)
        if purpose.switchable and not getattr(purpose, "double_opt_in", False)
    )
    (OUT / "users.lua").write_text(
        "return {\n"
        f'  session_cookie = "{settings.SESSION_COOKIE_NAME}",\n'
        f'  csrf_cookie = "{settings.CSRF_COOKIE_NAME}",\n'
        f'  token = "{token}",\n'
        f'  toggle = "{toggle}",\n'
        "  users = {\n" + "\n".join(lines) + "\n  },\n}\n"
    )
    print(f"{USERS} users, toggle {toggle!r}: {OUT / 'users.lua'}")


if __name__ == "__main__":
    main()
