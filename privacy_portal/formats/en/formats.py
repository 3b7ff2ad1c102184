"""English dates and times, one way on every page and e-mail: the day before the month, the
month by its name, and a 24-hour clock (Inper writes from Europe). Django's own English
formats mix "Dec. 6, 2026, 8:24 p.m." with the staff pages' "6 Dec 2026, 20:24", and its
short format (12/02/2026) is read as 12 February or as 2 December depending on who reads it.
A time names its zone (the portal's, UTC), which a reader elsewhere could not guess. Every
other format is Django's."""

DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i T"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i T"
MONTH_DAY_FORMAT = "j F"
