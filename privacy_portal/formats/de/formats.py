"""German dates and times as Django writes them, with the time's zone named (the portal's,
UTC), which a reader in Germany would otherwise take for their own. Every other format is
Django's."""

DATETIME_FORMAT = "j. F Y, H:i T"
SHORT_DATETIME_FORMAT = "d.m.Y H:i T"
