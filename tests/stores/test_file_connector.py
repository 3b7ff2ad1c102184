"""The file-store connector with real JPEG photos carrying EXIF data."""

from __future__ import annotations

import io
import json
import os
import struct
from datetime import UTC, datetime

import pytest
from PIL import ExifTags, Image

from dsr.connectors.base import ConfigurationError, Subject
from dsr.connectors.files import FileStoreConnector, video_duration
from dsr.demo import uploads
from dsr.models import State, TaskState
from dsr.services import dsr_request_approve
from tests.dsr.helpers import add_store, file_request, manifest, open_package, run_pending_tasks
from tests.stores.conftest import MemorySink

PHOTO = uploads.Photo(
    name="IMG_2041.jpg",
    make="Canon",
    model="EOS R6",
    taken=datetime(2025, 6, 1, 10, 30, tzinfo=UTC),
    latitude=52.52,
    longitude=13.405,
    colour=(40, 110, 170),
)


@pytest.fixture
def upload_root(tmp_path):
    root = tmp_path / "uploads"
    root.mkdir()
    return root


def files_store(root, folders=(uploads.FOLDER,)):
    return add_store(
        "uploads",
        "dsr.connectors.files.FileStoreConnector",
        name="Photo and video uploads",
        config={"root": str(root), "folders": list(folders)},
    )


def connector(root, folders=(uploads.FOLDER,)) -> FileStoreConnector:
    return FileStoreConnector(
        store_key="uploads", config={"root": str(root), "folders": list(folders)}, secrets={}
    )


def test_an_access_request_returns_the_photos_unchanged_with_their_exif_data(customer, upload_root):
    uploads.fill(upload_root, {customer.email: [PHOTO]})
    original = (upload_root / uploads.folder_of(customer.email) / PHOTO.name).read_bytes()
    uploads.fill(upload_root, {"someone.else@example.com": [PHOTO]})
    files_store(upload_root)

    request = run_pending_tasks(file_request(type="access", user=customer))

    assert request.state == State.COMPLETED
    archive = open_package(request)
    exported = archive.read(f"stores/uploads/files/{PHOTO.name}")
    assert exported == original
    exif = Image.open(io.BytesIO(exported)).getexif()
    assert (exif[ExifTags.Base.Make], exif[ExifTags.Base.Model]) == ("Canon", "EOS R6")
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert gps[ExifTags.GPS.GPSLatitudeRef] == "N" and gps[ExifTags.GPS.GPSLatitude][0] == 52
    assert exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == "2025:06:01 10:30:00"
    (listed,) = json.loads(archive.read("stores/uploads/files.json"))
    assert listed["name"] == PHOTO.name and listed["bytes"] == len(original)
    # The time, as every other time in the copy, in ISO 8601 (the photo keeps the camera's).
    assert listed["camera"] == "Canon EOS R6" and listed["taken_at"] == "2025-06-01T10:30:00"
    assert listed["location"] == "52.52000, 13.40500" and listed["width"] == 960
    assert json.loads(archive.read("data-dictionary.json"))["uploads"]["entities"]["files"][
        "columns"
    ]["location"].startswith("Where the photo was taken")
    files = [entry for entry in manifest(archive)["files"] if entry["path"].endswith(PHOTO.name)]
    assert files and files[0]["bytes"] == len(original)
    # The cover letter counts the files once, and its sentences end with one full stop.
    cover = archive.read("index.html").decode()
    assert cover.count("files: 1") == 1 and ".." not in cover


def test_an_erasure_deletes_the_persons_files_and_only_theirs(
    customer, compliance_user, upload_root
):
    uploads.fill(
        upload_root,
        {
            customer.email: [
                PHOTO,
                uploads.Photo(
                    "IMG_2.jpg",
                    "Apple",
                    "iPhone 16",
                    datetime(2025, 7, 1, tzinfo=UTC),
                    48.1,
                    11.5,
                    (90, 90, 90),
                ),
            ]
        },
    )
    uploads.fill(upload_root, {"someone.else@example.com": [PHOTO]})
    files_store(upload_root)

    request = dsr_request_approve(
        request=file_request(type="erasure", user=customer), actor=compliance_user
    )
    request = run_pending_tasks(request)

    task = request.tasks.get(store__key="uploads")
    assert task.state == TaskState.SUCCEEDED
    assert task.receipt["deleted"] == {"files": 2} and task.receipt["remaining"] == {"files": 0}
    assert not (upload_root / uploads.folder_of(customer.email)).exists()
    assert (upload_root / uploads.folder_of("someone.else@example.com") / PHOTO.name).exists()


def test_identities_cannot_lead_out_of_the_store(tmp_path, upload_root):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for export")
    (upload_root / "by-id").mkdir()
    store = connector(upload_root, folders=("by-id/{customer_id}", "by-mail/{email}"))
    for hostile in ("..", "../..", "../secret.txt", "/etc", "a/../../..", ".hidden", "..\\.."):
        subject = Subject(email=f"{hostile}@example.com", customer_id=hostile)
        sink = MemorySink()
        assert store.locate(subject).counts == {}
        store.export(subject, sink)
        assert sink.files == {}
        store.erase(subject)
    assert secret.read_text() == "not for export"


def test_symbolic_links_are_never_followed(tmp_path, upload_root):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "private.jpg").write_bytes(b"someone else's photo")
    person = Subject(email="anna.schmidt@example.com")
    folder = upload_root / uploads.folder_of(person.email)
    folder.mkdir(parents=True)
    uploads.jpeg_with_exif(folder / "mine.jpg", PHOTO)
    os.symlink(outside / "private.jpg", folder / "link.jpg")
    os.symlink(outside, folder / "linked-folder")
    store = connector(upload_root)

    sink = MemorySink()
    store.export(person, sink)
    assert set(sink.files) == {"mine.jpg"}
    store.erase(person)
    assert (outside / "private.jpg").read_bytes() == b"someone else's photo"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"root": "relative/path", "folders": ["{email}"]}, "absolute"),
        ({"root": "/srv/u", "storage": "default", "folders": ["{email}"]}, "either root"),
        ({"root": "/srv/u", "folders": []}, "folders must list"),
        ({"root": "/srv/u", "folders": ["shared"]}, "must name the person"),
        ({"root": "/srv/u", "folders": ["{passport}"]}, "must name the person"),
        ({"root": "/srv/u", "folders": ["/abs/{email}"]}, "without"),
        ({"root": "/srv/u", "folders": ["../{email}"]}, "without"),
    ],
)
def test_validation_explains_what_is_wrong(config, message):
    with pytest.raises(ConfigurationError, match=message):
        FileStoreConnector.validate_config(config, {})


def test_the_health_check_says_when_the_folder_is_missing(tmp_path, upload_root):
    assert connector(upload_root).health_check().ok
    health = connector(tmp_path / "nowhere").health_check()
    assert not health.ok and "does not exist" in health.detail


def test_a_videos_length_is_read_from_its_header():
    def box(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", 8 + len(body)) + kind + body

    mvhd = bytes(4) + bytes(8) + struct.pack(">II", 600, 600 * 42) + bytes(80)
    video = box(b"ftyp", b"isom" + bytes(12)) + box(b"moov", box(b"mvhd", mvhd))
    assert video_duration(io.BytesIO(video)) == 42.0
    assert video_duration(io.BytesIO(b"not a video at all")) is None


def test_the_person_is_located_by_their_folder(upload_root):
    uploads.fill(upload_root, {"anna.schmidt@example.com": [PHOTO]})
    store = connector(upload_root)
    assert store.locate(Subject(email="Anna.Schmidt@example.com")).counts == {"files": 1}
    assert store.locate(Subject(email="nobody@example.com")).counts == {}


@pytest.mark.parametrize(
    ("written", "offset", "read"),
    [
        ("2025:07:04 20:15:00", None, "2025-07-04T20:15:00"),
        ("2025:07:04 20:15:00\x00", "+02:00", "2025-07-04T20:15:00+02:00"),
        ("2025:07:04 20:15:00", "nonsense", "2025-07-04T20:15:00"),
        ("    :  :     :  :  ", None, ":  :     :  :"),  # a camera without a clock
    ],
)
def test_a_cameras_time_is_read_as_iso_8601(written, offset, read):
    from dsr.connectors.files import _exif_time

    assert _exif_time(written, offset) == read
