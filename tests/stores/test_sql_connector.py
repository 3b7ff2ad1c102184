"""The SQL connector against real databases: SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from dsr.connectors.base import (
    ConfigurationError,
    Pending,
    PermanentStoreError,
    StoreError,
    Subject,
    TaskContext,
    TemporaryStoreError,
)
from dsr.connectors.sql import SQLConnector
from dsr.demo import shop
from privacy_portal.pseudonymise import email_hash
from tests.stores.conftest import ANNA, BEN, MemorySink, rows, url_text

ANNA_SUBJECT = Subject(email=ANNA.email, customer_id="17")


def connector(url: sa.URL, **changes: Any) -> SQLConnector:
    config = shop.store_config(url_text(url))
    for table, table_changes in changes.items():
        config["tables"][table].update(table_changes)
    return SQLConnector(store_key="shop", config=config, secrets={})


def customer_id(url: sa.URL, email: str) -> int:
    (row,) = rows(url, shop.customers, shop.customers.c.email == email)
    return int(row["id"])


class StatementLog:
    """Counts the statements and transactions one engine runs."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []
        self.commits = 0
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        sa.event.listen(engine, "commit", self._commit)

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    def _commit(self, conn: Any) -> None:
        self.commits += 1

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._statement)
        sa.event.remove(self.engine, "commit", self._commit)


def test_locate_counts_the_persons_rows_through_the_links_between_tables(filled_shop):
    found = connector(filled_shop).locate(ANNA_SUBJECT)

    anna = customer_id(filled_shop, ANNA.email)
    lines = rows(
        filled_shop,
        shop.order_lines,
        shop.order_lines.c.order_id.in_(
            sa.select(shop.orders.c.id).where(shop.orders.c.customer_id == anna)
        ),
    )
    assert dict(found.counts) == {
        "customers": 1,
        "orders": 5,
        "order_lines": len(lines),
        "reviews": 1,
        "support_tickets": 1,
        "browsing_events": 40,
    }
    assert connector(filled_shop).locate(Subject(email="nobody@example.com")).counts == {}


def test_export_holds_every_table_of_the_person_and_nothing_of_anyone_else(filled_shop):
    sink = MemorySink()
    result = connector(filled_shop).export(ANNA_SUBJECT, sink)

    assert result.counts["orders"] == 5 and result.counts["browsing_events"] == 40
    (customer,) = sink.records("customers")
    assert customer["email"] == ANNA.email and customer["first_name"] == "Anna"
    assert "password_hash" not in customer  # excluded by the configuration
    assert {order["email"] for order in sink.records("orders")} == {ANNA.email}
    assert sink.tables["customers"].descriptions["newsletter"].startswith("Whether you")
    everything = repr(sink.tables)
    assert BEN.email not in everything and "example.net" not in everything


def test_a_portability_export_holds_only_what_the_configuration_calls_portable(filled_shop):
    context = TaskContext(idempotency_key="k", action="export", request_type="portability")
    store = connector(filled_shop, browsing_events={"portable": False})
    store.context = context
    sink = MemorySink()
    result = store.export(ANNA_SUBJECT, sink)

    assert "browsing_events" not in result.counts and "browsing_events" not in sink.tables
    (customer,) = sink.records("customers")
    configured = shop.store_config(url_text(filled_shop))["tables"]["customers"]["portable"]
    assert set(customer) == set(configured) and "processing_restricted" not in customer
    assert set(sink.tables["customers"].descriptions) == set(customer)
    assert len(sink.records("orders")) == 5
    assert all("processing_restricted" not in order for order in sink.records("orders"))
    assert "order_lines" in sink.tables and "reviews" in sink.tables  # portable by default
    everything = repr(sink.tables)
    assert BEN.email not in everything and "example.net" not in everything

    # The same store for an access request: every exported column, every table.
    store.context = replace(context, request_type="access")
    full = MemorySink()
    store.export(ANNA_SUBJECT, full)
    assert "processing_restricted" in full.records("customers")[0]
    assert len(full.records("browsing_events")) == 40


def test_erasure_deletes_anonymises_and_retains_as_configured(filled_shop):
    anna = customer_id(filled_shop, ANNA.email)
    ben_before = rows(filled_shop, shop.orders, shop.orders.c.email == BEN.email)
    anna_orders = [
        row["id"] for row in rows(filled_shop, shop.orders, shop.orders.c.customer_id == anna)
    ]
    lines_before = rows(filled_shop, shop.order_lines, shop.order_lines.c.order_id.in_(anna_orders))

    receipt = connector(filled_shop).erase(ANNA_SUBJECT)

    # The receipt says what happened, and the check found nothing left.
    assert dict(receipt.deleted) == {
        "customers": 1,
        "support_tickets": 1,
        "browsing_events": 40,
    }
    assert dict(receipt.anonymised) == {"orders": 5, "reviews": 1}
    assert receipt.clean and set(receipt.remaining) == {
        "customers",
        "orders",
        "reviews",
        "support_tickets",
        "browsing_events",
    }
    retained = {kept.entity: kept for kept in receipt.retained}
    assert retained["orders"].count == 5 and "HGB" in retained["orders"].basis
    assert retained["orders"].until > datetime.now(UTC).date() + timedelta(days=9 * 365)
    assert "total" in retained["orders"].fields_kept
    assert "shipping_address" not in retained["orders"].fields_kept
    assert retained["order_lines"].count == len(lines_before)

    # The database, read directly: Anna is gone, her orders are kept without her.
    assert rows(filled_shop, shop.customers, shop.customers.c.email == ANNA.email) == []
    assert rows(filled_shop, shop.browsing_events, shop.browsing_events.c.customer_id == anna) == []
    assert rows(filled_shop, shop.support_tickets, shop.support_tickets.c.email == ANNA.email) == []
    kept = rows(filled_shop, shop.orders, shop.orders.c.id.in_(anna_orders))
    assert len(kept) == 5
    for order in kept:
        assert order["customer_id"] is None and order["shipping_name"] is None
        assert order["shipping_address"] is None and order["phone"] is None
        assert order["payment_method"] == "erased" and order["total"] > 0
        assert order["email"] != ANNA.email and len(order["email"]) == 64  # keyed pseudonym
    assert len({order["email"] for order in kept}) == 1
    assert len(
        rows(filled_shop, shop.order_lines, shop.order_lines.c.order_id.in_(anna_orders))
    ) == len(lines_before)
    (review,) = rows(filled_shop, shop.reviews, shop.reviews.c.author_name == "Former customer")
    assert review["body"] is None and review["customer_id"] is None and review["rating"] >= 3
    # Nobody else was touched.
    assert rows(filled_shop, shop.orders, shop.orders.c.email == BEN.email) == ben_before
    assert len(rows(filled_shop, shop.customers)) == 21

    # Erasing again finds nothing more to do.
    again = connector(filled_shop).erase(ANNA_SUBJECT)
    assert not again.deleted and not again.anonymised and not again.retained and again.clean


def test_kept_rows_are_dated_by_their_own_dates_and_order_lines_by_their_orders(filled_shop):
    """Anna's orders were placed on different days and are each kept 10 years from their own:
    the receipt gives the first and the last day. An order's lines go with their order (the
    retention job deletes them with it), not 10 years from the erasure."""
    anna = customer_id(filled_shop, ANNA.email)
    orders = rows(filled_shop, shop.orders, shop.orders.c.customer_id == anna)
    lines = rows(
        filled_shop, shop.order_lines, shop.order_lines.c.order_id.in_([o["id"] for o in orders])
    )
    placed = {order["id"]: order["created_at"].date() for order in orders}
    ordered = sorted(placed.values())
    with_lines = sorted({placed[line["order_id"]] for line in lines})
    assert ordered[0] < ordered[-1] and with_lines

    receipt = connector(filled_shop).erase(ANNA_SUBJECT)

    kept = {kept.entity: kept for kept in receipt.retained}
    ten_years = relativedelta(years=10)
    assert (kept["orders"].first_until, kept["orders"].until) == (
        ordered[0] + ten_years,
        ordered[-1] + ten_years,
    )
    assert (kept["order_lines"].first_until, kept["order_lines"].until) == (
        with_lines[0] + ten_years,
        with_lines[-1] + ten_years,
    )
    assert kept["order_lines"].until < datetime.now(UTC).date() + ten_years


def test_erasure_is_one_transaction_with_a_fixed_number_of_statements(shop_url):
    shop.fill(shop_url, [ANNA, BEN], others_count=0, extra_orders={ANNA.email: 2})
    few = connector(shop_url)
    assert few.health_check().ok  # reads the catalogue once; it is then kept
    log = StatementLog(few.engine)
    try:
        few.erase(ANNA_SUBJECT)
        small = [
            s
            for s in log.statements
            if s.lstrip().upper().startswith(("UPDATE", "DELETE", "SELECT"))
        ]
        commits_small = log.commits
        log.statements.clear()
        many = Subject(email=BEN.email)
        engine = sa.create_engine(shop_url)
        with engine.begin() as conn:
            ben = customer_id(shop_url, BEN.email)
            conn.execute(
                sa.insert(shop.browsing_events),
                [{"customer_id": ben, "url": "/p", "at": datetime.now(UTC)} for _ in range(500)],
            )
        engine.dispose()
        few.erase(many)
        large = [
            s
            for s in log.statements
            if s.lstrip().upper().startswith(("UPDATE", "DELETE", "SELECT"))
        ]
    finally:
        log.close()
    assert len(large) == len(small) <= 20
    assert commits_small == 1  # one transaction per store
    assert rows(shop_url, shop.browsing_events) == []


def test_a_failure_part_way_leaves_the_store_unchanged(filled_shop):
    store = connector(filled_shop)
    anna = customer_id(filled_shop, ANNA.email)
    before = rows(filled_shop, shop.orders, shop.orders.c.email == ANNA.email)

    def refuse_last_table(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("DELETE FROM CUSTOMERS"):
            raise sa.exc.OperationalError(statement, {}, Exception("server closed the connection"))

    sa.event.listen(store.engine, "before_cursor_execute", refuse_last_table)
    try:
        with pytest.raises(TemporaryStoreError) as raised:
            store.erase(ANNA_SUBJECT)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", refuse_last_table)
    assert ANNA.email not in str(raised.value) and "DELETE" not in str(raised.value)
    assert rows(filled_shop, shop.orders, shop.orders.c.email == ANNA.email) == before
    assert (
        len(rows(filled_shop, shop.browsing_events, shop.browsing_events.c.customer_id == anna))
        == 40
    )


LOOKALIKES = (
    "Anna.Schmidt@example.com",  # another case
    "änna.schmidt@example.com",  # another letter
    "anna.schmidt@exämple.com",
    "anna.schmidt@example.com ",  # a trailing space
)


def _signups(url: sa.URL, emails: tuple[str, ...]) -> sa.Table:
    """A table ``signups`` of these e-mail addresses in the database at ``url``."""
    signups = sa.Table(
        "signups",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
    )
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            signups.create(conn)
            conn.execute(sa.insert(signups), [{"email": email} for email in emails])
    finally:
        engine.dispose()
    return signups


@pytest.mark.parametrize("email_match", ["exact", "lower"])
def test_an_erasure_takes_only_rows_of_the_persons_own_address(shop_url, email_match):
    signups = _signups(shop_url, (ANNA.email, *LOOKALIKES))
    config = {
        "url": url_text(shop_url),
        "tables": {"signups": {"identities": {"email": "email"}, "email_match": email_match}},
    }
    store = SQLConnector(store_key="signups", config=config, secrets={})
    same_person = {ANNA.email} | ({"Anna.Schmidt@example.com"} if email_match == "lower" else set())

    assert store.locate(Subject(email=ANNA.email)).counts == {"signups": len(same_person)}
    assert store.erase(Subject(email=ANNA.email)).deleted == {"signups": len(same_person)}
    left = {row["email"] for row in rows(shop_url, signups)}
    assert left == {ANNA.email, *LOOKALIKES} - same_person


def test_a_lowercase_match_finds_capitals_beyond_a_to_z(shop_url):
    """``email_match: "lower"`` finds "ÄNNA@…" for "änna@…" on every database (SQLite's own
    ``lower()`` changes only A to Z), and the erasure's check finds nothing left."""
    signups = _signups(shop_url, ("ÄNNA.ÖZ@EXAMPLE.COM", "anna.oz@example.com"))
    config = {
        "url": url_text(shop_url),
        "tables": {"signups": {"identities": {"email": "email"}, "email_match": "lower"}},
    }
    store = SQLConnector(store_key="signups", config=config, secrets={})
    result = store.erase(Subject(email="änna.öz@example.com"))
    assert result.deleted == {"signups": 1} and not any(result.remaining.values())
    assert [row["email"] for row in rows(shop_url, signups)] == ["anna.oz@example.com"]


def test_identities_are_bound_parameters_so_input_cannot_inject_sql(filled_shop):
    store = connector(filled_shop)
    log = StatementLog(store.engine)
    hostile = Subject(email="x' or '1'='1", order_numbers=("1 OR 1=1; DROP TABLE orders --",))
    try:
        assert store.locate(hostile).counts == {}
        assert store.erase(hostile).deleted == {}
        assert store.confirm_identity(hostile) is False
    finally:
        log.close()
    assert not any("1'='1" in statement or "DROP" in statement for statement in log.statements)
    assert len(rows(filled_shop, shop.customers)) == 22


def test_table_and_column_names_are_checked_against_the_catalogue(filled_shop):
    config = shop.store_config(url_text(filled_shop))
    config["tables"]["customers; DROP TABLE orders"] = config["tables"].pop("support_tickets")
    store = SQLConnector(store_key="shop", config=config, secrets={})
    health = store.health_check()
    assert not health.ok and "Unknown table(s) customers; DROP TABLE orders" in health.detail
    with pytest.raises(ConfigurationError):
        store.locate(ANNA_SUBJECT)

    typo = connector(filled_shop, orders={"columns": {"emial": "null"}})
    health = typo.health_check()
    assert not health.ok and "Unknown column orders.emial" in health.detail
    assert "shipping_address" in health.detail  # it lists the columns there are
    with pytest.raises(PermanentStoreError):
        typo.erase(ANNA_SUBJECT)
    assert len(rows(filled_shop, shop.orders, shop.orders.c.email == ANNA.email)) == 5
    assert connector(filled_shop).health_check().ok


def test_a_configuration_that_would_break_foreign_keys_is_refused(filled_shop):
    # Orders are kept but would still point to deleted customers.
    store = connector(filled_shop, orders={"columns": {"email": "null"}})
    health = store.health_check()
    assert not health.ok
    assert "orders keeps rows that point to customers" in health.detail
    # A NOT NULL column cannot be set to null.
    store = connector(filled_shop, order_lines={"erase": "anonymise", "columns": {"sku": "null"}})
    assert "order_lines.sku cannot be NULL" in store.health_check().detail


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": "not a url"}, "not a database URL"),
        ({"url": "oracle://db/x"}, "unsupported database oracle"),
        ({"url": "postgresql://u:hunter2@db/x"}, "must not contain a password"),
        ({"url": "postgresql://u@db/x?password=hunter2"}, "must not contain a password"),
        ({"url": "mysql://u@db/x?charset=utf8mb4&PASSWD=hunter2"}, "must not contain a password"),
        ({"url": "sqlite:///relative.db"}, "absolute file path"),
        ({"tables": {}}, "at least one table"),
        ({"tables": {"t": {"erase": "delete"}}}, "needs identities, a parent table, or both"),
        ({"tables": {"t": {"identities": {"email": "e"}, "erase": "shred"}}}, 'use "delete"'),
        ({"tables": {"t": {"identities": {"passport": "p"}}}}, "unknown identity passport"),
        ({"tables": {"t": {"identities": {"email": "e"}, "erase": "retain"}}}, "legal basis"),
        (
            {"tables": {"t": {"identities": {"email": "e"}, "columns": {"e": "null"}}}},
            "need no column actions",
        ),
        (
            {
                "tables": {
                    "t": {
                        "identities": {"email": "e"},
                        "erase": "anonymise",
                        "columns": {"e": "rot13"},
                    }
                }
            },
            'use "null", "hash"',
        ),
        ({"tables": {"t": {"parent": "u"}}}, "u is not one of the configured tables"),
        (
            {
                "tables": {
                    "t": {
                        "identities": {"email": "e"},
                        "erase": "retain",
                        "retention": {"basis": "Tax law", "years": 10_000},
                    }
                }
            },
            "retention.years must be a whole number from 0 to 200",
        ),
        (
            {"tables": {"a": {"parent": "b"}, "b": {"parent": "a"}}},
            "cycle",
        ),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone: Mars/Olympus_Mons is not a time zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone: ../../etc/passwd is not a time zone"),
        ({"time_zone": "zone.tab"}, "time_zone: zone.tab is not a time zone"),
        ({"time_zone": "Europe"}, "time_zone: Europe is not a time zone"),
        (
            {"tables": {"t": {"identities": {"email": "e"}, "portable": "some"}}},
            "tables.t.portable: use true, false or a list of columns",
        ),
        (
            {
                "tables": {
                    "t": {"identities": {"email": "e"}, "exclude": ["pw"], "portable": ["pw"]}
                }
            },
            "tables.t.portable names a column that exclude leaves out",
        ),
    ],
)
def test_validation_explains_what_is_wrong(change, message):
    config = {
        "url": "postgresql://dsr@db.internal:5432/shop",
        "tables": {"t": {"identities": {"email": "e"}}},
    }
    config.update(change)
    with pytest.raises(ConfigurationError) as raised:
        SQLConnector.validate_config(config, {})
    assert message in str(raised.value)


def test_an_sqlite_database_takes_no_password():
    """SQLite has no passwords: a secret given for one is a mistake said at once, not a
    database error (which it would be, in SQLAlchemy's words) when the store is tested."""
    config = {"url": "sqlite:////srv/shop.sqlite3", "tables": {"t": {"identities": {"email": "e"}}}}
    with pytest.raises(ConfigurationError) as raised:
        SQLConnector.validate_config(config, {"password": "hunter2"})
    assert "An SQLite database has no password" in str(raised.value)
    SQLConnector.validate_config(config, {})
    assert "hunter2" not in str(raised.value)


def test_the_longest_retention_period_still_erases_and_says_until_when(filled_shop):
    retention = {"basis": "Archive law", "years": 200, "months": 2400, "days": 73200}
    store = connector(filled_shop, orders={"retention": {**retention, "date_column": "created_at"}})
    result = store.erase(ANNA_SUBJECT)
    (orders,) = [kept for kept in result.retained if kept.entity == "orders"]
    assert orders.until is not None and orders.until.year > datetime.now(UTC).year + 590
    assert store.apply_retention(now=datetime.now(UTC), dry_run=True).deleted == {}


def test_an_unreachable_database_is_a_temporary_error_with_a_clear_message(filled_shop):
    config = shop.store_config("postgresql://dsr@127.0.0.1:1/shop")
    store = SQLConnector(store_key="down", config=config, secrets={"password": "s3cret-pw"})
    health = store.health_check()
    assert (
        not health.ok and "cannot be reached" in health.detail and "s3cret-pw" not in health.detail
    )
    with pytest.raises(TemporaryStoreError):
        store.locate(ANNA_SUBJECT)


def test_a_mistyped_sqlite_path_is_an_error_and_creates_no_file(tmp_path):
    folder = tmp_path / "shop data #1?"
    folder.mkdir()
    url = sa.URL.create("sqlite", database=str(folder / "shop.sqlite3"))
    shop.fill(url, [ANNA], others_count=1)
    assert connector(url).locate(ANNA_SUBJECT).counts["customers"] == 1

    typo = url.set(database=str(folder / "shpo.sqlite3"))
    health = connector(typo).health_check()
    assert not health.ok and health.detail == "The SQLite file cannot be opened."
    with pytest.raises(PermanentStoreError):
        connector(typo).erase(ANNA_SUBJECT)
    assert sorted(path.name for path in folder.iterdir()) == ["shop.sqlite3"]


def test_wrong_credentials_are_a_permanent_error(server_shop_url):
    shop.fill(server_shop_url, [ANNA], others_count=0)
    config = shop.store_config(
        url_text(server_shop_url.set(username="no_such_user", password=None))
    )
    store = SQLConnector(store_key="shop", config=config, secrets={"password": "wrong"})
    with pytest.raises(StoreError) as raised:
        store.locate(ANNA_SUBJECT)
    assert "wrong" not in str(raised.value)


def test_an_order_number_confirms_who_someone_is_only_with_their_own_email(filled_shop):
    (order, *_) = rows(filled_shop, shop.orders, shop.orders.c.email == ANNA.email)
    (bens, *_) = rows(filled_shop, shop.orders, shop.orders.c.email == BEN.email)
    store = connector(filled_shop)
    assert store.confirm_identity(Subject(email=ANNA.email, order_numbers=(order["order_number"],)))
    assert not store.confirm_identity(
        Subject(email=ANNA.email, order_numbers=(bens["order_number"],))
    )
    assert not store.confirm_identity(Subject(email=ANNA.email))


def test_an_order_number_typed_in_lower_case_or_with_spaces_still_confirms(filled_shop):
    (order, *_) = rows(filled_shop, shop.orders, shop.orders.c.email == ANNA.email)
    typed = f"  {order['order_number'].lower()} "
    assert typed.strip() != order["order_number"]
    assert connector(filled_shop).confirm_identity(
        Subject(email=ANNA.email, order_numbers=(typed,))
    )


def test_an_order_number_finds_the_address_of_whoever_placed_the_order(filled_shop):
    (order, *_) = rows(filled_shop, shop.orders, shop.orders.c.email == ANNA.email)
    store = connector(filled_shop)
    assert store.emails_for_order_number(order["order_number"]) == [ANNA.email.lower()]
    # Support types it as it comes: in small letters too.
    typed = f" {order['order_number'].lower()} "
    assert store.emails_for_order_number(typed) == [ANNA.email.lower()]
    assert store.emails_for_order_number("INP-NO-SUCH") == []
    assert store.emails_for_order_number("1' OR '1'='1") == []


def test_an_order_number_is_followed_up_to_the_customer_when_the_order_holds_no_address(
    filled_shop,
):
    """An order table without an address of its own: the customer it points to has one."""
    (order, *_) = rows(filled_shop, shop.orders, shop.orders.c.email == ANNA.email)
    store = connector(filled_shop, orders={"identities": {}, "parent": "customers"})
    assert store.emails_for_order_number(order["order_number"]) == [ANNA.email.lower()]


def test_erasures_can_be_reapplied_from_email_hashes(filled_shop):
    found = connector(filled_shop).subjects_by_hash(
        {"email": {email_hash(e): datetime.now(UTC) for e in (ANNA.email, "gone@example.com")}}
    )
    assert found == [Subject(email=ANNA.email)]


def test_restriction_marks_the_persons_rows_and_can_be_lifted(filled_shop):
    store = connector(filled_shop)
    result = store.restrict(ANNA_SUBJECT)
    assert dict(result.counts) == {"customers": 1, "orders": 5}
    (anna,) = rows(filled_shop, shop.customers, shop.customers.c.email == ANNA.email)
    assert anna["processing_restricted"]
    assert not rows(
        filled_shop,
        shop.customers,
        shop.customers.c.processing_restricted.is_(True),
        shop.customers.c.email != ANNA.email,
    )
    assert store.restrict(ANNA_SUBJECT, lift=True).lifted
    (anna,) = rows(filled_shop, shop.customers, shop.customers.c.email == ANNA.email)
    assert not anna["processing_restricted"]


def test_a_correction_is_a_step_for_staff_where_the_person_has_records(filled_shop):
    store = connector(filled_shop)
    assert isinstance(store.rectify(ANNA_SUBJECT, {"details": "my name is Anne"}), Pending)
    assert store.rectify(Subject(email="nobody@example.com"), {"details": "x"}).counts == {}


def test_retention_deletes_expired_orders_with_their_lines_old_pages_and_tickets(filled_shop):
    engine = sa.create_engine(filled_shop)
    old = datetime.now(UTC) - timedelta(days=11 * 366)
    with engine.begin() as conn:
        order = conn.execute(
            sa.insert(shop.orders).values(
                order_number="INP-OLD-1",
                email="old@example.org",
                total=10,
                currency="EUR",
                status="delivered",
                processing_restricted=False,
                created_at=old,
            )
        ).inserted_primary_key[0]
        conn.execute(
            sa.insert(shop.order_lines).values(
                order_id=order, sku="X", product_name="Old thing", quantity=1, unit_price=10
            )
        )
        # Pages viewed are kept 14 months, support requests 3 years: older ones go too.
        now = datetime.now(UTC)
        conn.execute(
            sa.insert(shop.browsing_events).values(url="/old", at=now - timedelta(days=430))
        )
        conn.execute(
            sa.insert(shop.browsing_events).values(url="/recent", at=now - timedelta(days=400))
        )
        conn.execute(
            sa.insert(shop.support_tickets).values(
                email="old@example.org",
                channel="email",
                status="closed",
                created_at=now - timedelta(days=3 * 366),
            )
        )
    engine.dispose()
    store = connector(filled_shop)
    expired = {"orders": 1, "order_lines": 1, "browsing_events": 1, "support_tickets": 1}

    preview = store.apply_retention(now=datetime.now(UTC), dry_run=True)
    assert preview.dry_run and dict(preview.deleted) == expired
    assert rows(filled_shop, shop.orders, shop.orders.c.order_number == "INP-OLD-1")

    run = store.apply_retention(now=datetime.now(UTC))
    assert dict(run.deleted) == expired
    urls = [
        row["url"]
        for row in rows(
            filled_shop, shop.browsing_events, shop.browsing_events.c.url.in_(["/old", "/recent"])
        )
    ]
    assert urls == ["/recent"]
    assert not rows(filled_shop, shop.orders, shop.orders.c.order_number == "INP-OLD-1")
    assert len(rows(filled_shop, shop.orders, shop.orders.c.email == ANNA.email)) == 5


def _zoned_connector(url: sa.URL, zone: str | None) -> SQLConnector:
    config = shop.store_config(url_text(url))
    if zone is not None:
        config["time_zone"] = zone
    return SQLConnector(store_key="shop", config=config, secrets={})


@pytest.mark.parametrize("zone", [None, "America/New_York"])
def test_a_copy_gives_every_time_with_its_zone(filled_shop, zone):
    """SQLite and MariaDB keep the shop's times without a zone: the copy reads them in the
    store's (UTC unless ``time_zone`` says otherwise) and writes them in UTC, as PostgreSQL's."""
    sink = MemorySink()
    _zoned_connector(filled_shop, zone).export(ANNA_SUBJECT, sink)

    anna = customer_id(filled_shop, ANNA.email)
    kept = ZoneInfo(zone or "UTC")
    expected = {
        order["order_number"]: (
            order["created_at"]
            if order["created_at"].tzinfo
            else order["created_at"].replace(tzinfo=kept)
        ).astimezone(UTC)
        for order in rows(filled_shop, shop.orders, shop.orders.c.customer_id == anna)
    }
    copied = {order["order_number"]: order["created_at"] for order in sink.records("orders")}
    assert copied == expected and len(copied) == 5
    assert {value.utcoffset() for value in copied.values()} == {timedelta(0)}


def test_retention_reads_times_without_a_zone_in_the_stores(filled_shop):
    """An order placed three hours before the cutoff by a clock in UTC is not yet due if the
    shop's clock is Los Angeles' (eight hours behind): kept there, on every database without
    zones; PostgreSQL keeps the instant itself."""
    now = datetime.now(UTC)
    engine = sa.create_engine(filled_shop)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(shop.orders).values(
                order_number="INP-EDGE-1",
                email="edge@example.org",
                total=10,
                currency="EUR",
                status="delivered",
                processing_restricted=False,
                created_at=now - relativedelta(years=10) - timedelta(hours=3),
            )
        )
    engine.dispose()
    zones_kept = filled_shop.get_backend_name() != "postgresql"

    in_utc = _zoned_connector(filled_shop, None).apply_retention(now=now, dry_run=True)
    in_la = _zoned_connector(filled_shop, "America/Los_Angeles").apply_retention(
        now=now, dry_run=True
    )
    assert in_utc.deleted.get("orders") == 1
    assert in_la.deleted.get("orders") == (None if zones_kept else 1)


def test_the_erasure_plan_describes_each_table():
    store = SQLConnector(
        store_key="shop", config=shop.store_config("sqlite:////tmp/shop.sqlite3"), secrets={}
    )
    plan = {step.entity: step for step in store.erasure_plan()}
    assert plan["customers"].action == "delete"
    assert plan["orders"].action == "retain" and plan["orders"].period == "10 years"
    assert "shipping_address" in plan["orders"].fields
    assert plan["reviews"].action == "anonymise"


def test_the_password_is_a_secret_used_only_to_connect(filled_shop):
    config = copy.deepcopy(shop.store_config("postgresql://dsr@db.internal:5432/shop"))
    store = SQLConnector(store_key="shop", config=config, secrets={"password": "pw-123"})
    assert store.settings.url.password == "pw-123"
    assert "pw-123" not in str(store.settings.url)  # SQLAlchemy masks it when printed
