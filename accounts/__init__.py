"""Customer accounts: sign-in (django-allauth), profile, addresses, closure, staff roles."""
