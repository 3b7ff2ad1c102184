"""Consent: purposes and cookie catalogue, policy versions, the consent ledger, the preference
centre, the cookie banner, Global Privacy Control and unsubscribe."""
