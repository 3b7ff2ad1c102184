"""A demo customer finds out where Inper keeps their data and downloads all of it, in Chromium,
with a real worker and the demo world's stores."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from PIL import ExifTags, Image

from accounts.demo import DEMO_PASSWORD
from accounts.models import User
from dsr.models import DataSubjectRequest, State, TaskState
from tests.e2e.conftest import sign_in
from tests.stores.conftest import demo_world, worker  # noqa: F401 (fixtures)
from tests.stores.test_demo_world import complete_manual_steps
from tests.worker import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BEN = "ben.carter@example.com"


def reauthenticate_if_asked(page) -> None:
    """Confirm the password when the portal asks for it again (before disclosing anything)."""
    page.wait_for_load_state()
    if "/reauthenticate/" in page.url:
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Confirm").click()


@pytest.mark.usefixtures("worker")
def test_a_customer_sees_where_their_data_is_and_downloads_all_of_it(page, settings, tmp_path):
    # Re-authentication lasts a few seconds only, so that the download asks again.
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 3
    sign_in(page, BEN, DEMO_PASSWORD)

    # "My data": the stores are searched in the background, the page updates by itself.
    page.goto("/account/data/")
    stores = page.get_by_role("region", name="Where Inper keeps data about you")
    stores.get_by_text("Checking Inper's systems for data about you").wait_for()
    shop_row = stores.get_by_role("row", name=re.compile("Inper shop"))
    shop_row.wait_for(timeout=30_000)
    assert "orders: 3" in shop_row.inner_text()
    assert (
        "subscription: 1"
        in stores.get_by_role("row", name=re.compile("Newsletter platform")).inner_text()
    )
    assert (
        "files: 2"
        in stores.get_by_role("row", name=re.compile("Photo and video uploads")).inner_text()
    )
    assert (
        "Checked by our staff"
        in stores.get_by_role("row", name=re.compile("Payment provider")).inner_text()
    )

    # File an access request, confirming the password first.
    page.goto("/requests/new/")
    page.get_by_label("Access: a copy of my data").check()
    page.get_by_role("button", name="Send my request").click()
    reauthenticate_if_asked(page)
    page.get_by_text(re.compile(r"We received your request DSR-\d{4}-\d{6}")).wait_for()
    request = DataSubjectRequest.objects.get(user__email=BEN, type="access")

    # The worker searches every store; staff add what the payment provider holds.
    wait_until(
        lambda: request.tasks.filter(state=TaskState.WAITING, waiting_for="manual").exists(),
        timeout=60,
        message="the manual step",
    )
    complete_manual_steps(
        request,
        User.objects.get(email="compliance@inper.example"),
        files={"psp-ben.csv": b"email,card\nben,Visa 4242\n"},
    )
    wait_until(
        lambda: DataSubjectRequest.objects.get(pk=request.pk).state == State.COMPLETED,
        timeout=60,
        message="the package",
    )

    # The page notices the request is done; the download asks for the password again.
    download_link = page.get_by_role("link", name="Download my data")
    download_link.wait_for(timeout=30_000)
    page.wait_for_timeout(3_500)
    download_link.click()
    page.wait_for_url(re.compile("/reauthenticate/"))
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    with page.expect_download() as started:
        page.get_by_role("button", name="Confirm").click()
    path = tmp_path / "download.zip"
    started.value.save_as(path)
    # The person is back on the request's page, not left on the password page.
    assert re.search(r"/requests/DSR-\d{4}-\d{6}/\?download=1$", page.url)
    assert re.fullmatch(r"inper-data-DSR-\d{4}-\d{6}\.zip", started.value.suggested_filename)

    archive = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    orders = json.loads(archive.read("stores/inper-shop/orders.json"))
    assert len(orders) == 3 and {order["email"] for order in orders} == {BEN}
    (subscriber,) = json.loads(archive.read("stores/newsletter/subscriber.json"))
    assert subscriber["email"] == BEN
    photos = [name for name in archive.namelist() if name.startswith("stores/uploads/files/")]
    assert len(photos) == 2
    exif = Image.open(io.BytesIO(archive.read(photos[0]))).getexif()
    assert exif[ExifTags.Base.Make] == "Panasonic"
    assert "index.html" in archive.namelist()
