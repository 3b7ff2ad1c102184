"""Inper's real purposes, cookie catalogue and first policy versions, as the privacy statement
describes them. Loaded by a data migration; staff change them in the admin afterwards (which
makes new versions), so this module is the starting point, not the live catalogue."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

POLICY_DIR = Path(__file__).resolve().parent / "policies"
FIRST_PUBLISHED = datetime(2026, 11, 1, tzinfo=UTC)


def _t(en_title: str, en_description: str, de_title: str, de_description: str) -> dict[str, Any]:
    return {
        "en": {"title": en_title, "description": en_description},
        "de": {"title": de_title, "description": de_description},
    }


#: The session cookie: a signed-in person's, and a visitor's for a confirmation after a form
#: (SESSION_IDLE_TIMEOUT, 30 minutes unless configured otherwise).
SESSION_COOKIE_PURPOSE = (
    "Keeps you signed in, and shows a confirmation after you send a form.",
    "Hält Sie angemeldet und zeigt nach dem Absenden eines Formulars eine Bestätigung an.",
)
SESSION_COOKIE_LIFETIME = "30 minutes; signed in, from your last visit (12 hours at most)"

PURPOSES: list[dict[str, Any]] = [
    # --- marketing channels ---------------------------------------------------------------
    {
        "key": "marketing_email",
        "kind": "marketing",
        "channel": "email",
        "legal_basis": "consent",
        "double_opt_in": True,
        "texts": _t(
            "News and offers by e-mail",
            "Our newsletter: new products, services and promotions from Inper, about once a "
            "month. We send it only after you confirm your address, and every e-mail has a "
            "one-click unsubscribe link.",
            "Neuigkeiten und Angebote per E-Mail",
            "Unser Newsletter: neue Produkte, Dienstleistungen und Aktionen von Inper, etwa "
            "einmal im Monat. Wir senden ihn erst, nachdem Sie Ihre Adresse bestätigt haben, "
            "und jede E-Mail enthält einen Link zum Abmelden mit einem Klick.",
        ),
    },
    {
        "key": "marketing_sms",
        "kind": "marketing",
        "channel": "sms",
        "legal_basis": "consent",
        "texts": _t(
            "Offers by text message",
            "Occasional text messages about promotions and product launches to the phone number "
            "in your profile. Reply STOP to any of them to stop them.",
            "Angebote per SMS",
            "Gelegentliche SMS zu Aktionen und neuen Produkten an die Telefonnummer in Ihrem "
            "Profil. Antworten Sie auf eine davon mit STOP, um sie abzubestellen.",
        ),
    },
    {
        "key": "marketing_phone",
        "kind": "marketing",
        "channel": "phone",
        "legal_basis": "consent",
        "texts": _t(
            "Phone calls about offers",
            "Inper's sales team may call you about products and services that suit what you "
            "bought before.",
            "Anrufe zu Angeboten",
            "Das Vertriebsteam von Inper darf Sie zu Produkten und Dienstleistungen anrufen, "
            "die zu Ihren bisherigen Käufen passen.",
        ),
    },
    {
        "key": "marketing_post",
        "kind": "marketing",
        "channel": "post",
        "legal_basis": "legitimate_interest",
        "default_granted": True,
        "texts": _t(
            "Catalogues and offers by post",
            "As a customer you may receive printed catalogues and offers at your default "
            "shipping address. We do this in our legitimate interest; you can object at any time.",
            "Kataloge und Angebote per Post",
            "Als Kunde erhalten Sie gegebenenfalls gedruckte Kataloge und Angebote an Ihre "
            "Standard-Lieferadresse. Das tun wir aufgrund unseres berechtigten Interesses; Sie "
            "können jederzeit widersprechen.",
        ),
    },
    # --- processing purposes --------------------------------------------------------------
    {
        "key": "personalisation",
        "kind": "processing",
        "legal_basis": "consent",
        "texts": _t(
            "A site tailored to you",
            "We use what you viewed, searched for and bought on our sites to understand your "
            "needs, show you relevant content and personalise the site for you.",
            "Eine auf Sie zugeschnittene Website",
            "Wir nutzen, was Sie auf unseren Websites angesehen, gesucht und gekauft haben, um "
            "Ihre Bedürfnisse zu verstehen, Ihnen passende Inhalte zu zeigen und die Website "
            "für Sie zu personalisieren.",
        ),
    },
    {
        "key": "surveys",
        "kind": "processing",
        "legal_basis": "consent",
        "texts": _t(
            "Customer surveys",
            "We may invite you to short surveys for market research and planning. Taking part "
            "is always voluntary.",
            "Kundenumfragen",
            "Wir dürfen Sie zu kurzen Umfragen für Marktforschung und Planung einladen. Die "
            "Teilnahme ist immer freiwillig.",
        ),
    },
    {
        "key": "referrals",
        "kind": "processing",
        "legal_basis": "consent",
        "texts": _t(
            "Information for people you refer",
            "When you recommend Inper to someone and ask us to, we send them information about "
            "our services and products, mentioning you.",
            "Informationen für Personen, die Sie empfehlen",
            "Wenn Sie Inper jemandem empfehlen und uns darum bitten, senden wir dieser Person "
            "Informationen zu unseren Dienstleistungen und Produkten und nennen dabei Sie.",
        ),
    },
    {
        "key": "partner_sharing",
        "kind": "processing",
        "legal_basis": "consent",
        "honours_gpc": True,
        "texts": _t(
            "Sharing with business partners",
            "We pass your contact details to selected business partners so that they can send "
            "you their own offers. In some US states this counts as a “sale” or “sharing” of "
            "personal data; a Global Privacy Control signal from your browser switches it off.",
            "Weitergabe an Geschäftspartner",
            "Wir geben Ihre Kontaktdaten an ausgewählte Geschäftspartner weiter, damit diese "
            "Ihnen eigene Angebote senden können. In einigen US-Bundesstaaten gilt dies als "
            "„Verkauf“ oder „Weitergabe“ personenbezogener Daten; ein Global-Privacy-Control-"
            "Signal Ihres Browsers schaltet es aus.",
        ),
    },
    {
        "key": "statistics",
        "kind": "processing",
        "legal_basis": "legitimate_interest",
        "default_granted": True,
        "texts": _t(
            "Statistical studies",
            "We include your orders and use of our sites in statistical studies that help us "
            "improve our services and products. Results never identify you. You can object.",
            "Statistische Auswertungen",
            "Wir beziehen Ihre Bestellungen und Ihre Nutzung unserer Websites in statistische "
            "Auswertungen ein, die uns helfen, unsere Dienstleistungen und Produkte zu "
            "verbessern. Die Ergebnisse lassen keinen Rückschluss auf Sie zu. Sie können "
            "widersprechen.",
        ),
    },
    {
        "key": "international_transfers",
        "kind": "processing",
        "legal_basis": "legitimate_interest",
        "default_granted": True,
        "texts": _t(
            "Transfers to other countries",
            "Inper's companies and service providers in other countries may store and process "
            "your data, protected by measures such as the European Commission's standard "
            "contractual clauses. You can object to transfers outside the EEA; our compliance "
            "team then reviews what can be kept inside it.",
            "Übermittlungen in andere Länder",
            "Unternehmen und Dienstleister von Inper in anderen Ländern dürfen Ihre Daten "
            "speichern und verarbeiten, geschützt durch Maßnahmen wie die "
            "Standardvertragsklauseln der Europäischen Kommission. Sie können Übermittlungen "
            "außerhalb des EWR widersprechen; unser Compliance-Team prüft dann, was innerhalb "
            "des EWR bleiben kann.",
        ),
    },
    {
        "key": "orders",
        "kind": "processing",
        "legal_basis": "contract",
        "default_granted": True,
        "always_on": True,
        "texts": _t(
            "Your orders and support",
            "To accept and deliver your orders, help with service and warranty questions and "
            "answer your enquiries. This is needed for our contract with you.",
            "Ihre Bestellungen und Ihr Support",
            "Um Ihre Bestellungen anzunehmen und zu liefern, bei Service- und Garantiefragen zu "
            "helfen und Ihre Anfragen zu beantworten. Das ist für unseren Vertrag mit Ihnen "
            "erforderlich.",
        ),
    },
    {
        "key": "legal_records",
        "kind": "processing",
        "legal_basis": "legal_obligation",
        "default_granted": True,
        "always_on": True,
        "texts": _t(
            "Records the law requires",
            "We keep order records to comply with financial regulations and export laws.",
            "Gesetzlich vorgeschriebene Aufzeichnungen",
            "Wir bewahren Bestelldaten auf, um Finanzvorschriften und Exportgesetze einzuhalten.",
        ),
    },
    # --- cookie categories ----------------------------------------------------------------
    {
        "key": "necessary",
        "kind": "cookie",
        "legal_basis": "legitimate_interest",
        "default_granted": True,
        "always_on": True,
        "texts": _t(
            "Strictly necessary",
            "Needed for the site to work: signing in, security, your shopping cart and "
            "remembering your cookie choices. They cannot be switched off.",
            "Unbedingt erforderlich",
            "Für den Betrieb der Website nötig: Anmeldung, Sicherheit, Ihr Warenkorb und das "
            "Speichern Ihrer Cookie-Auswahl. Sie lassen sich nicht abschalten.",
        ),
        "services": [
            {
                "name": "Inper websites",
                "provider": "Inper Ltd",
                "description": (
                    "Sign-in, security and shopping cart.",
                    "Anmeldung, Sicherheit und Warenkorb.",
                ),
                "cookies": [
                    (
                        "sessionid",
                        SESSION_COOKIE_PURPOSE[0],
                        SESSION_COOKIE_PURPOSE[1],
                        SESSION_COOKIE_LIFETIME,
                    ),
                    (
                        "csrftoken",
                        "Protects forms against forgery.",
                        "Schützt Formulare vor Fälschung.",
                        "1 year",
                    ),
                    (
                        "inper_cart",
                        "Remembers your shopping cart.",
                        "Merkt sich Ihren Warenkorb.",
                        "30 days",
                    ),
                    (
                        "inper_consent",
                        "Remembers your cookie choices.",
                        "Speichert Ihre Cookie-Auswahl.",
                        "12 months",
                    ),
                    (
                        "django_language",
                        "Remembers the language you chose.",
                        "Merkt sich die gewählte Sprache.",
                        "1 year",
                    ),
                ],
            }
        ],
    },
    {
        "key": "preferences",
        "kind": "cookie",
        "legal_basis": "consent",
        "texts": _t(
            "Preferences",
            "Remember your settings for future visits, such as your region for accurate "
            "prices and the products you viewed recently.",
            "Präferenzen",
            "Merken sich Ihre Einstellungen für spätere Besuche, etwa Ihre Region für korrekte "
            "Preise und die zuletzt angesehenen Produkte.",
        ),
        "services": [
            {
                "name": "Inper websites",
                "provider": "Inper Ltd",
                "description": (
                    "Your region and recently viewed products.",
                    "Ihre Region und zuletzt angesehene Produkte.",
                ),
                "cookies": [
                    (
                        "inper_region",
                        "Shows prices for your country.",
                        "Zeigt Preise für Ihr Land.",
                        "12 months",
                    ),
                    (
                        "inper_recent",
                        "Lists products you viewed recently.",
                        "Listet zuletzt angesehene Produkte.",
                        "30 days",
                    ),
                ],
            }
        ],
    },
    {
        "key": "analytics",
        "kind": "cookie",
        "legal_basis": "consent",
        "texts": _t(
            "Analytics",
            "Help us understand how visitors use our sites (pages visited, time on page, "
            "scrolls and clicks, country) so that we can improve them. We use Google Analytics "
            "and our own session measurement.",
            "Analyse",
            "Helfen uns zu verstehen, wie Besucher unsere Websites nutzen (besuchte Seiten, "
            "Verweildauer, Scrollen und Klicks, Land), damit wir sie verbessern können. Wir "
            "nutzen Google Analytics und unsere eigene Sitzungsmessung.",
        ),
        "services": [
            {
                "name": "Google Analytics",
                "provider": "Google Ireland Ltd",
                "privacy_url": "https://www.google.com/policies/privacy/partners/",
                "description": (
                    "Statistics about visits and page use.",
                    "Statistiken über Besuche und Seitennutzung.",
                ),
                "cookies": [
                    (
                        "_ga",
                        "Tells visits of different visitors apart.",
                        "Unterscheidet Besuche verschiedener Besucher.",
                        "2 years",
                    ),
                    (
                        "_ga_*",
                        "Keeps the state of a visit.",
                        "Speichert den Zustand eines Besuchs.",
                        "2 years",
                    ),
                ],
            },
            {
                "name": "Session measurement",
                "provider": "Inper Ltd",
                "description": (
                    "Page response times, scrolls, clicks and mouse-overs.",
                    "Ladezeiten, Scrollen, Klicks und Mausbewegungen.",
                ),
                "cookies": [
                    (
                        "inper_metrics",
                        "Groups the measurements of one visit.",
                        "Fasst die Messungen eines Besuchs zusammen.",
                        "session",
                    ),
                ],
            },
        ],
    },
    {
        "key": "marketing",
        "kind": "cookie",
        "legal_basis": "consent",
        "honours_gpc": True,
        "texts": _t(
            "Advertising and social media",
            "Third-party advertising beacons measure and target ads, and social buttons (such "
            "as Facebook “like” and “share”) can track you even if you do not click them. "
            "These third parties collect the data directly, under their own policies.",
            "Werbung und soziale Medien",
            "Werbe-Beacons von Drittanbietern messen und steuern Werbung, und Social-Media-"
            "Schaltflächen (etwa „Gefällt mir“ und „Teilen“ von Facebook) können Sie verfolgen, "
            "auch wenn Sie sie nicht anklicken. Diese Dritten erheben die Daten direkt, nach "
            "ihren eigenen Richtlinien.",
        ),
        "services": [
            {
                "name": "Google Ads",
                "provider": "Google Ireland Ltd",
                "privacy_url": "https://policies.google.com/privacy",
                "description": (
                    "Advertising beacons that measure ad conversions.",
                    "Werbe-Beacons, die Anzeigen-Conversions messen.",
                ),
                "cookies": [
                    (
                        "_gcl_au",
                        "Links ad clicks to purchases.",
                        "Verknüpft Anzeigenklicks mit Käufen.",
                        "90 days",
                    ),
                ],
            },
            {
                "name": "Facebook social buttons",
                "provider": "Meta Platforms Ireland Ltd",
                "privacy_url": "https://www.facebook.com/privacy/policy/",
                "description": (
                    "“Like” and “share” buttons; they act as web beacons.",
                    "„Gefällt mir“- und „Teilen“-Schaltflächen; sie wirken als Web-Beacons.",
                ),
                "cookies": [
                    (
                        "_fbp",
                        "Recognises your browser for advertising.",
                        "Erkennt Ihren Browser für Werbung.",
                        "90 days",
                    ),
                    (
                        "fr",
                        "Delivers and measures Facebook ads.",
                        "Liefert und misst Facebook-Werbung.",
                        "90 days",
                        "facebook.com",
                    ),
                ],
            },
        ],
    },
]

#: What the German pages call the services whose names are not product names.
SERVICE_NAMES_DE = {
    "Inper websites": "Inper-Websites",
    "Session measurement": "Messung von Besuchen",
    "Facebook social buttons": "Facebook-Schaltflächen",
}
LIFETIME_DE = {
    "session": "Sitzung",
    SESSION_COOKIE_LIFETIME: (
        "30 Minuten; angemeldet ab Ihrem letzten Besuch (höchstens 12 Stunden)"
    ),
    "1 year": "1 Jahr",
    "2 years": "2 Jahre",
    "12 months": "12 Monate",
    "30 days": "30 Tage",
    "90 days": "90 Tage",
}


def seed_catalogue(apps: Any) -> None:
    """Create the purposes, their first versions, the cookie catalogue and the first versions of
    the privacy statement and the cookie policy (idempotent)."""
    purpose_model = apps.get_model("consent", "Purpose")
    version_model = apps.get_model("consent", "PurposeVersion")
    service_model = apps.get_model("consent", "CookieService")
    cookie_model = apps.get_model("consent", "Cookie")
    policy_model = apps.get_model("consent", "PolicyVersion")
    for position, spec in enumerate(PURPOSES):
        spec = dict(spec)
        texts = spec.pop("texts")
        services = spec.pop("services", [])
        purpose, created = purpose_model.objects.get_or_create(
            key=spec.pop("key"), defaults={**spec, "position": position}
        )
        if not created:
            continue
        version = version_model.objects.create(purpose=purpose, version=1, texts=texts)
        purpose.current_version = version
        purpose.save(update_fields=["current_version"])
        for service_position, service in enumerate(services):
            en, de = service["description"]
            row = service_model.objects.create(
                category=purpose,
                name=service["name"],
                provider=service["provider"],
                privacy_url=service.get("privacy_url", ""),
                position=service_position,
                texts={
                    "en": {"description": en},
                    "de": {"description": de}
                    | (
                        {"name": SERVICE_NAMES_DE[service["name"]]}
                        if service["name"] in SERVICE_NAMES_DE
                        else {}
                    ),
                },
            )
            for cookie in service["cookies"]:
                name, purpose_en, purpose_de, lifetime = cookie[:4]
                domain = cookie[4] if len(cookie) > 4 else ""
                first_party = service["provider"] == "Inper Ltd" or name.startswith("_")
                cookie_model.objects.create(
                    service=row,
                    name=name,
                    domain=domain or "inper.com",
                    first_party=first_party and not domain,
                    texts={
                        "en": {"purpose": purpose_en, "lifetime": lifetime},
                        "de": {"purpose": purpose_de, "lifetime": LIFETIME_DE[lifetime]},
                    },
                )
    for document, filename in (
        ("privacy_statement", "privacy-statement.md"),
        ("cookie_policy", "cookie-policy.md"),
    ):
        body = (POLICY_DIR / filename).read_text(encoding="utf-8")
        policy_model.objects.get_or_create(
            document=document,
            version=1,
            defaults={
                "published_at": FIRST_PUBLISHED,
                "material": False,
                "body": body,
                "summary": {
                    "en": "First published version.",
                    "de": "Erste veröffentlichte Fassung.",
                },
            },
        )
