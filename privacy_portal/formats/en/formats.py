"""English dates on staff pages: Django's short format (12/02/2026) is read as 12 February
or as 2 December depending on who reads it; the month's name is read one way only. Every
other format is Django's."""

SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
