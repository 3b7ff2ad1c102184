"""The compliance officers' dashboard at ``/dashboard/``: the request queue, decisions, metrics
and reports, the audit trail, the record of processing and retention."""
