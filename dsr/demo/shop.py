"""The demo "Inper shop" database: customers, orders, order lines, reviews, support tickets
and browsing events, for the demo customers and many others.

It is an SQLite file under ``var/demo/`` on the embedded default, and a second PostgreSQL
database (``<portal database>_shop``) when the portal runs on PostgreSQL. The same schema
serves the SQL connector's tests on PostgreSQL, MariaDB and SQLite.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from django.conf import settings
from django.utils.translation import gettext_noop

metadata = sa.MetaData()

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("first_name", sa.String(100)),
    sa.Column("last_name", sa.String(100)),
    sa.Column("phone", sa.String(40)),
    sa.Column("birth_date", sa.Date),
    sa.Column("newsletter", sa.Boolean, nullable=False, default=False),
    sa.Column("processing_restricted", sa.Boolean, nullable=False, default=False),
    sa.Column("password_hash", sa.String(200)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("order_number", sa.String(20), nullable=False, unique=True),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), index=True),
    sa.Column("email", sa.String(254), index=True),
    sa.Column("shipping_name", sa.String(200)),
    sa.Column("shipping_address", sa.String(400)),
    sa.Column("phone", sa.String(40)),
    sa.Column("payment_method", sa.String(40)),
    sa.Column("total", sa.Numeric(12, 2), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("processing_restricted", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("order_id", sa.Integer, sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("sku", sa.String(40), nullable=False),
    sa.Column("product_name", sa.String(200), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", sa.Numeric(12, 2), nullable=False),
)
reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), index=True),
    sa.Column("product_sku", sa.String(40), nullable=False),
    sa.Column("rating", sa.Integer, nullable=False),
    sa.Column("author_name", sa.String(100)),
    sa.Column("title", sa.String(200)),
    sa.Column("body", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
support_tickets = sa.Table(
    "support_tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), index=True),
    sa.Column("email", sa.String(254), index=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("subject", sa.String(200)),
    sa.Column("body", sa.Text),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
# Like most analytics tables, no declared foreign key: the link is named in the configuration.
browsing_events = sa.Table(
    "browsing_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.Integer, index=True),
    sa.Column("session_id", sa.String(64)),
    sa.Column("url", sa.String(400)),
    sa.Column("ip", sa.String(45)),
    sa.Column("user_agent", sa.String(300)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

PRODUCTS = [
    ("INP-TRK-01", "Inper Trek hiking boots", Decimal("149.00")),
    ("INP-CAM-20", "Inper Aerial camera drone", Decimal("899.00")),
    ("INP-BAT-03", "Spare flight battery", Decimal("79.90")),
    ("INP-PRP-04", "Propeller set (4)", Decimal("19.90")),
    ("INP-BAG-05", "Carry case", Decimal("59.00")),
    ("INP-GMB-06", "Three-axis gimbal", Decimal("249.00")),
    ("INP-SD-07", "128 GB memory card", Decimal("24.90")),
    ("INP-FLT-08", "ND filter kit", Decimal("39.00")),
]
_FIRST = ["Lena", "Jonas", "Mia", "Noah", "Emma", "Liam", "Sofia", "Lukas", "Ella", "Paul"]
_LAST = ["Müller", "Smith", "Dubois", "Rossi", "García", "Nowak", "Jensen", "Kowalski", "Brown"]
_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 15) Chrome/131.0 Mobile",
]


def _texts(en: str, de: str) -> dict[str, str]:
    return {"en": en, "de": de}


#: What each exported column of the shop means, for the person reading their copy (the data
#: dictionary of the access package), in English and German.
DESCRIPTIONS: dict[str, dict[str, dict[str, str]]] = {
    "customers": {
        "id": _texts("Your customer number in the shop", "Ihre Kundennummer im Shop"),
        "email": _texts(
            "The e-mail address of your shop account", "Die E-Mail-Adresse Ihres Shop-Kontos"
        ),
        "first_name": _texts("Your first name", "Ihr Vorname"),
        "last_name": _texts("Your last name", "Ihr Nachname"),
        "phone": _texts(
            "The phone number you gave us, for questions about your orders",
            "Die Telefonnummer, die Sie uns für Rückfragen zu Bestellungen gegeben haben",
        ),
        "birth_date": _texts(
            "Your date of birth, if you gave it", "Ihr Geburtsdatum, falls Sie es angegeben haben"
        ),
        "newsletter": _texts(
            "Whether you subscribed to the newsletter in the shop",
            "Ob Sie im Shop den Newsletter abonniert haben",
        ),
        "processing_restricted": _texts(
            "Whether you asked us to restrict processing",
            "Ob Sie verlangt haben, dass wir die Verarbeitung einschränken",
        ),
        "created_at": _texts(
            "When you opened your shop account", "Wann Sie Ihr Shop-Konto eröffnet haben"
        ),
    },
    "orders": {
        "id": _texts("The order's number in our system", "Die interne Nummer der Bestellung"),
        "order_number": _texts(
            "The order number on your order confirmation",
            "Die Bestellnummer auf Ihrer Bestellbestätigung",
        ),
        "customer_id": _texts(
            "Your customer number (links the order to your account)",
            "Ihre Kundennummer (verbindet die Bestellung mit Ihrem Konto)",
        ),
        "email": _texts(
            "The e-mail address the order confirmation went to",
            "Die E-Mail-Adresse, an die die Bestellbestätigung ging",
        ),
        "shipping_name": _texts(
            "The name the parcel was addressed to", "Der Name, an den das Paket adressiert war"
        ),
        "shipping_address": _texts(
            "The address the order was delivered to", "Die Lieferadresse der Bestellung"
        ),
        "phone": _texts(
            "The phone number given for the delivery",
            "Die für die Lieferung angegebene Telefonnummer",
        ),
        "payment_method": _texts(
            "How you paid (card numbers shortened to their last digits)",
            "Wie Sie bezahlt haben (Kartennummern nur mit den letzten Ziffern)",
        ),
        "total": _texts("The order's total amount", "Der Gesamtbetrag der Bestellung"),
        "currency": _texts("The currency of the amounts", "Die Währung der Beträge"),
        "status": _texts(
            "Where the order stands (for example shipped or delivered)",
            "Der Stand der Bestellung (zum Beispiel versandt oder zugestellt)",
        ),
        "processing_restricted": _texts(
            "Whether you asked us to restrict processing of this order",
            "Ob Sie verlangt haben, dass wir die Verarbeitung dieser Bestellung einschränken",
        ),
        "created_at": _texts(
            "When you placed the order", "Wann Sie die Bestellung aufgegeben haben"
        ),
    },
    "order_lines": {
        "id": _texts(
            "The order line's number in our system", "Die interne Nummer der Bestellposition"
        ),
        "order_id": _texts(
            "The order this line belongs to (its number in our system)",
            "Die Bestellung, zu der diese Position gehört (ihre interne Nummer)",
        ),
        "sku": _texts("The product's article number", "Die Artikelnummer des Produkts"),
        "product_name": _texts("The product you ordered", "Das bestellte Produkt"),
        "quantity": _texts("How many you ordered", "Die bestellte Menge"),
        "unit_price": _texts("The price of one item", "Der Preis pro Stück"),
    },
    "reviews": {
        "id": _texts("The review's number in our system", "Die interne Nummer der Bewertung"),
        "customer_id": _texts(
            "Your customer number (links the review to your account)",
            "Ihre Kundennummer (verbindet die Bewertung mit Ihrem Konto)",
        ),
        "product_sku": _texts(
            "The article number of the product you reviewed",
            "Die Artikelnummer des Produkts, das Sie bewertet haben",
        ),
        "rating": _texts("The stars you gave, from 1 to 5", "Die vergebenen Sterne, von 1 bis 5"),
        "author_name": _texts(
            "The name shown with your review", "Der Name, der bei Ihrer Bewertung erscheint"
        ),
        "title": _texts("The title of your review", "Die Überschrift Ihrer Bewertung"),
        "body": _texts("The text of your review", "Der Text Ihrer Bewertung"),
        "created_at": _texts(
            "When you wrote the review", "Wann Sie die Bewertung geschrieben haben"
        ),
    },
    "support_tickets": {
        "id": _texts("The ticket's number", "Die Nummer der Anfrage"),
        "customer_id": _texts(
            "Your customer number (links the ticket to your account)",
            "Ihre Kundennummer (verbindet die Anfrage mit Ihrem Konto)",
        ),
        "email": _texts(
            "The e-mail address we answered you at",
            "Die E-Mail-Adresse, an die wir Ihnen geantwortet haben",
        ),
        "channel": _texts(
            "How you contacted us (e-mail, phone or at a trade show)",
            "Wie Sie uns kontaktiert haben (E-Mail, Telefon oder auf einer Messe)",
        ),
        "subject": _texts("The subject of your question", "Der Betreff Ihrer Anfrage"),
        "body": _texts("What you wrote or told us", "Was Sie uns geschrieben oder gesagt haben"),
        "status": _texts(
            "Whether the ticket is still open or closed",
            "Ob die Anfrage noch offen oder abgeschlossen ist",
        ),
        "created_at": _texts("When you contacted us", "Wann Sie uns kontaktiert haben"),
    },
    "browsing_events": {
        "id": _texts("The visit record's number", "Die Nummer des Besuchseintrags"),
        "customer_id": _texts(
            "Your customer number (you were signed in to the shop)",
            "Ihre Kundennummer (Sie waren im Shop angemeldet)",
        ),
        "session_id": _texts(
            "A random code for one visit to the shop, so that its pages are counted together",
            "Ein zufälliger Code für einen Besuch im Shop, damit seine Seiten zusammen gezählt "
            "werden",
        ),
        "url": _texts("The shop page you looked at", "Die Shop-Seite, die Sie angesehen haben"),
        "ip": _texts(
            "The internet address your device had at the time",
            "Die Internetadresse, die Ihr Gerät zu diesem Zeitpunkt hatte",
        ),
        "user_agent": _texts(
            "Your browser and operating system, as the browser named them",
            "Ihr Browser und Betriebssystem, wie der Browser sie angegeben hat",
        ),
        "at": _texts("When you looked at the page", "Wann Sie die Seite angesehen haben"),
    },
}


def store_config(url: str) -> dict[str, Any]:
    """Return the SQL connector configuration of the demo shop (also the README's example)."""
    # In English as a store's configuration holds them; marked for the catalogue, so that the
    # person's e-mail and pages give the demo's reasons in their language.
    financial = gettext_noop(
        "Financial records: commercial and tax law (HGB §257, AO §147) require orders to be "
        "kept for 10 years"
    )
    return {
        "url": url,
        "names": {"en": "Inper shop", "de": "Inper-Shop"},
        "entity_names": {
            "customers": {"en": "customer account", "de": "Kundenkonto"},
            "orders": {"en": "orders", "de": "Bestellungen"},
            "order_lines": {"en": "order lines", "de": "Bestellpositionen"},
            "reviews": {"en": "reviews", "de": "Bewertungen"},
            "support_tickets": {"en": "support tickets", "de": "Supportanfragen"},
            "browsing_events": {"en": "browsing events", "de": "Seitenaufrufe"},
        },
        "tables": {
            "customers": {
                "identities": {"email": "email"},
                "erase": "delete",
                "restrict_column": "processing_restricted",
                "exclude": ["password_hash"],
                # Portability: what the person gave, and their customer number (which their
                # orders, reviews and page views point to), not the shop's own marks.
                "portable": [
                    "id",
                    "email",
                    "first_name",
                    "last_name",
                    "phone",
                    "birth_date",
                    "newsletter",
                    "created_at",
                ],
                "descriptions": DESCRIPTIONS["customers"],
            },
            "orders": {
                "parent": "customers",
                "identities": {"email": "email"},
                "order_number_column": "order_number",
                "erase": "retain",
                "columns": {
                    "customer_id": "null",
                    "email": "hash",
                    "shipping_name": "null",
                    "shipping_address": "null",
                    "phone": "null",
                    "payment_method": {"fixed": "erased"},
                },
                "retention": {"basis": financial, "years": 10, "date_column": "created_at"},
                "restrict_column": "processing_restricted",
                "portable": [
                    "id",
                    "order_number",
                    "email",
                    "shipping_name",
                    "shipping_address",
                    "phone",
                    "payment_method",
                    "total",
                    "currency",
                    "status",
                    "created_at",
                ],
                "descriptions": DESCRIPTIONS["orders"],
            },
            "order_lines": {
                "parent": "orders",
                "erase": "retain",
                "retention": {
                    "basis": gettext_noop(
                        "Financial records: commercial and tax law (HGB §257, AO §147) require "
                        "orders to be kept for 10 years (lines of an order)"
                    ),
                    "years": 10,
                },
                "descriptions": DESCRIPTIONS["order_lines"],
            },
            "reviews": {
                "parent": "customers",
                "erase": "anonymise",
                "columns": {
                    "customer_id": "null",
                    "author_name": {"fixed": "Former customer"},
                    "title": "null",
                    "body": "null",
                },
                "descriptions": DESCRIPTIONS["reviews"],
            },
            "support_tickets": {
                "parent": "customers",
                "identities": {"email": "email"},
                "erase": "delete",
                "retention": {
                    "basis": gettext_noop("Answering questions and complaints about orders"),
                    "years": 3,
                    "date_column": "created_at",
                },
                "descriptions": DESCRIPTIONS["support_tickets"],
            },
            "browsing_events": {
                "parent": "customers",
                "on": {"customer_id": "id"},
                "erase": "delete",
                "retention": {
                    "basis": gettext_noop("Statistics of the shop's use"),
                    "months": 14,
                    "date_column": "at",
                },
                "descriptions": DESCRIPTIONS["browsing_events"],
            },
        },
    }


# --- where the demo shop lives ------------------------------------------------------------------


def portal_server() -> sa.URL | None:
    """Return the URL of the PostgreSQL server the portal uses (no database), or None."""
    portal = settings.DATABASES["default"]
    if portal["ENGINE"] != "django.db.backends.postgresql":
        return None
    return sa.URL.create(
        "postgresql+psycopg2",
        username=portal.get("USER") or None,
        password=portal.get("PASSWORD") or None,
        host=portal.get("HOST") or "127.0.0.1",
        port=int(portal.get("PORT") or 5432),
    )


def database_url() -> sa.URL:
    """Return the demo shop's URL: beside the portal's PostgreSQL database, else SQLite."""
    server = portal_server()
    if server is not None:
        return server.set(database=f"{settings.DATABASES['default']['NAME']}_shop")
    path = Path(settings.VAR_DIR) / "demo" / "shop.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    return sa.URL.create("sqlite", database=str(path.resolve()))


def ensure_database(url: sa.URL) -> None:
    """Create the database of ``url`` on its server if it does not exist (PostgreSQL and
    MariaDB; an SQLite file is created on first use)."""
    if url.drivername.startswith("sqlite"):
        return
    server_db = "postgres" if url.drivername.startswith("postgresql") else None
    engine = sa.create_engine(url._replace(database=server_db), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            name = str(url.database)
            if url.drivername.startswith("postgresql"):
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                ).first()
            else:
                exists = conn.execute(
                    sa.text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :name"),
                    {"name": name},
                ).first()
            if exists is None:
                quoted = conn.dialect.identifier_preparer.quote(name)
                conn.execute(sa.text(f"CREATE DATABASE {quoted}"))
    finally:
        engine.dispose()


def drop_database(url: sa.URL) -> None:
    """Drop the database of ``url`` (tests and benchmarks clean up after themselves)."""
    if url.drivername.startswith("sqlite"):
        Path(str(url.database)).unlink(missing_ok=True)
        return
    server_db = "postgres" if url.drivername.startswith("postgresql") else None
    engine = sa.create_engine(url._replace(database=server_db), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            quoted = conn.dialect.identifier_preparer.quote(str(url.database))
            force = " WITH (FORCE)" if url.drivername.startswith("postgresql") else ""
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted}{force}"))
    finally:
        engine.dispose()


# --- filling it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopPerson:
    """A person as the shop knows them (the demo customers, and the generated others)."""

    email: str
    first_name: str
    last_name: str
    phone: str = ""
    address: str = ""
    birth_date: date | None = None
    newsletter: bool = False


def _order_number(order_id: int) -> str:
    return f"INP-{100000 + order_id}"


def _insert(conn: sa.Connection, statement: Any) -> int:
    key = conn.execute(statement).inserted_primary_key
    assert key is not None  # noqa: S101 (every demo table has an integer key)
    return int(key[0])


def add_person(
    conn: sa.Connection,
    person: ShopPerson,
    *,
    rng: random.Random,
    now: datetime,
    orders_count: int = 3,
    events: int = 40,
    reviews_count: int = 1,
    tickets: int = 1,
) -> int:
    """Insert a customer with orders, lines, reviews, tickets and browsing events; return the
    customer id."""
    customer_id = _insert(
        conn,
        sa.insert(customers).values(
            email=person.email,
            first_name=person.first_name,
            last_name=person.last_name,
            phone=person.phone or None,
            birth_date=person.birth_date,
            newsletter=person.newsletter,
            processing_restricted=False,
            password_hash="pbkdf2_sha256$demo$not-a-real-hash",  # noqa: S106 (a placeholder)
            created_at=now - timedelta(days=rng.randint(200, 1500)),
        ),
    )
    name = f"{person.first_name} {person.last_name}"
    for index in range(orders_count):
        created = now - timedelta(days=rng.randint(5, 900), minutes=index)
        picked = rng.sample(PRODUCTS, k=rng.randint(1, 3))
        lines = [(sku, title, price, rng.randint(1, 2)) for sku, title, price in picked]
        total = sum((price * qty for _, _, price, qty in lines), Decimal("0"))
        order_id = _insert(
            conn,
            sa.insert(orders).values(
                order_number="pending",
                customer_id=customer_id,
                email=person.email,
                shipping_name=name,
                shipping_address=person.address or None,
                phone=person.phone or None,
                payment_method=rng.choice(["Visa •••• 4242", "PayPal", "SEPA direct debit"]),
                total=total,
                currency="EUR",
                status=rng.choice(["delivered", "delivered", "shipped"]),
                processing_restricted=False,
                created_at=created,
            ),
        )
        conn.execute(
            sa.update(orders)
            .where(orders.c.id == order_id)
            .values(order_number=_order_number(order_id))
        )
        conn.execute(
            sa.insert(order_lines),
            [
                {
                    "order_id": order_id,
                    "sku": sku,
                    "product_name": title,
                    "quantity": qty,
                    "unit_price": price,
                }
                for sku, title, price, qty in lines
            ],
        )
    for _ in range(reviews_count):
        sku, title, _price = rng.choice(PRODUCTS)
        conn.execute(
            sa.insert(reviews).values(
                customer_id=customer_id,
                product_sku=sku,
                rating=rng.randint(3, 5),
                author_name=f"{person.first_name} {person.last_name[:1]}.",
                title=f"My {title}",
                body=f"I use the {title.lower()} every weekend. Delivery to "
                f"{person.address or 'me'} was quick.",
                created_at=now - timedelta(days=rng.randint(1, 400)),
            )
        )
    for _ in range(tickets):
        conn.execute(
            sa.insert(support_tickets).values(
                customer_id=customer_id,
                email=person.email,
                channel=rng.choice(["email", "phone", "trade show"]),
                subject="Question about my drone's firmware",
                body=f"Hello, this is {name}. Please call me back on {person.phone or 'e-mail'}.",
                status="closed",
                created_at=now - timedelta(days=rng.randint(1, 300)),
            )
        )
    session = f"{rng.getrandbits(64):016x}"
    agent = rng.choice(_AGENTS)
    if events:
        conn.execute(
            sa.insert(browsing_events),
            [
                {
                    "customer_id": customer_id,
                    "session_id": session,
                    "url": f"https://shop.inper.example/p/{rng.choice(PRODUCTS)[0].lower()}",
                    "ip": f"203.0.113.{rng.randint(1, 254)}",
                    "user_agent": agent,
                    "at": now - timedelta(minutes=rng.randint(1, 90 * 24 * 60)),
                }
                for _ in range(events)
            ],
        )
    return customer_id


def others(count: int, *, seed: int = 5) -> list[ShopPerson]:
    """Return ``count`` generated customers with example.net addresses."""
    rng = random.Random(seed)  # noqa: S311 (demo data, not secrets)
    people = []
    for index in range(count):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        people.append(
            ShopPerson(
                email=f"customer{index + 1}@example.net",
                first_name=first,
                last_name=last,
                phone=f"+4915{rng.randint(10000000, 99999999)}",
                address=f"{rng.randint(1, 200)} Example Street, {rng.randint(10000, 99999)} Town",
                newsletter=rng.random() < 0.3,
            )
        )
    return people


def fill(
    url: sa.URL,
    people: Sequence[ShopPerson],
    *,
    others_count: int = 1500,
    now: datetime | None = None,
    extra_orders: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Create the schema and add whoever of ``people`` and the generated others is missing
    (so running it again restores a demo customer whose data was erased); return the
    customer id of each of ``people``."""
    now = now or datetime.now(UTC)
    ensure_database(url)
    engine = sa.create_engine(url)
    ids: dict[str, int] = {}
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            known = {email for (email,) in conn.execute(sa.select(customers.c.email)).all()}
            rng = random.Random(2026)  # noqa: S311 (demo data, not secrets)
            for person in people:
                if person.email in known:
                    continue
                ids[person.email] = add_person(
                    conn,
                    person,
                    rng=rng,
                    now=now,
                    orders_count=(extra_orders or {}).get(person.email, 3),
                )
            if not any(email.endswith("@example.net") for email in known):
                for other in others(others_count):
                    add_person(
                        conn,
                        other,
                        rng=rng,
                        now=now,
                        orders_count=rng.randint(0, 4),
                        events=rng.randint(0, 30),
                        reviews_count=rng.randint(0, 1),
                        tickets=rng.randint(0, 1),
                    )
            for person in people:
                if person.email not in ids:
                    ids[person.email] = int(
                        conn.execute(
                            sa.select(customers.c.id).where(customers.c.email == person.email)
                        ).scalar_one()
                    )
    finally:
        engine.dispose()
    return ids
