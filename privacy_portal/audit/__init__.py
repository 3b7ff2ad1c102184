"""The audit trail: an append-only, hash-chained record of every action on requests, consent
and account data, by people and by the system. It holds ids, never personal data."""
