"""A file store as a data store: the photos, videos and documents customers uploaded.

Each person's files are in folders named after one of their identities::

    {"root": "/srv/inper/uploads", "folders": ["customers/{email_sha256}"]}

or, instead of ``root``, ``"storage": "uploads"`` (an alias in Django's ``STORAGES``, for object
storage). Placeholders: ``{email}``, ``{email_sha256}`` (hex SHA-256 of the lower-case
address), ``{customer_id}`` and ``{phone}``.

An export copies every file unchanged into the package, so photos keep their EXIF data (camera,
time, place), which Inper's privacy statement says it collects, and lists the files in a table
with their name, size and what the file itself says (image size, when and with what it was
taken, whether it holds a location; a video's length). An erasure deletes the files and checks
that the folder is empty.

Nothing from the person can leave the store's folder: identities must look like identities
before they name a folder, every path is joined by the storage (which refuses ``..``), real
paths are checked to stay under the root, and symbolic links are never followed.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any, ClassVar

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, InvalidStorageError, Storage, storages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from django_stubs_ext import StrOrPromise

from ..texts import ConfiguredText, text_lazy, texts_parse
from .base import (
    ConfigurationError,
    Connector,
    EraseResult,
    ExportResult,
    ExportSink,
    HealthResult,
    LocateResult,
    PermanentStoreError,
    PlannedErasure,
    Subject,
    TemporaryStoreError,
    connector_config,
)

PLACEHOLDERS = ("email", "email_sha256", "customer_id", "phone")
#: What an identity must look like before it names a folder.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9@+_-][A-Za-z0-9@.+_-]{0,253}$")
#: How deep the folders of one person are searched.
MAX_DEPTH = 6


@dataclass(frozen=True)
class FilesConfig:
    root: str | None
    storage: str | None
    folders: tuple[str, ...]
    #: Explanations of the listing's columns, in place of the connector's own.
    descriptions: Mapping[str, ConfiguredText] = field(default_factory=dict)


#: The columns of the listing of a person's files in their package.
COLUMNS = (
    "name",
    "bytes",
    "content_type",
    "modified",
    "width",
    "height",
    "taken_at",
    "camera",
    "location",
    "video_seconds",
)


_DESCRIPTIONS: dict[str, StrOrPromise] = {
    "name": gettext_lazy("File name, in your folder"),
    "bytes": gettext_lazy("Size in bytes"),
    "content_type": gettext_lazy("Kind of file (its media type, such as image/jpeg)"),
    "modified": gettext_lazy("When the file was last changed in our storage"),
    "width": gettext_lazy("Width of a photo or video, in pixels"),
    "height": gettext_lazy("Height of a photo or video, in pixels"),
    "taken_at": gettext_lazy("When the photo was taken (from its EXIF data)"),
    "camera": gettext_lazy("Camera make and model (from its EXIF data)"),
    "location": gettext_lazy("Where the photo was taken, latitude and longitude (EXIF data)"),
    "video_seconds": gettext_lazy("Length of a video, in seconds"),
}


def parse_config(config: Mapping[str, Any]) -> FilesConfig:
    """Return the store's configuration; raise ConfigurationError saying what is wrong."""
    unknown = set(config) - {
        "root",
        "storage",
        "folders",
        "actions",
        "assigned_group",
        "descriptions",
    }
    if unknown:
        raise ConfigurationError(
            gettext_noop("Unknown configuration keys: %(keys)s."), keys=", ".join(sorted(unknown))
        )
    root, alias = config.get("root"), config.get("storage")
    if bool(root) == bool(alias):
        raise ConfigurationError(
            gettext_noop("Give either root (a folder) or storage (a STORAGES alias).")
        )
    if root is not None and (not isinstance(root, str) or not os.path.isabs(root)):
        raise ConfigurationError(gettext_noop("root must be an absolute folder path."))
    if alias is not None and not isinstance(alias, str):
        raise ConfigurationError(gettext_noop("storage must be the name of a storage in STORAGES."))
    folders = config.get("folders")
    if not isinstance(folders, list) or not folders:
        raise ConfigurationError(
            _('folders must list where a person\'s files are, e.g. ["customers/{email_sha256}"].')
        )
    for folder in folders:
        if not isinstance(folder, str) or not folder.strip():
            raise ConfigurationError(gettext_noop("Every entry of folders must be a text."))
        names = [name for _, name, _, _ in string.Formatter().parse(folder) if name is not None]
        if not names or not set(names) <= set(PLACEHOLDERS):
            raise ConfigurationError(
                gettext_noop("%(folder)s must name the person with one of %(choices)s."),
                folder=folder,
                choices=", ".join("{" + p + "}" for p in PLACEHOLDERS),
            )
        path = PurePosixPath(folder)
        if path.is_absolute() or ".." in path.parts or "\\" in folder:
            raise ConfigurationError(
                gettext_noop("%(folder)s must be a path inside the store, without “..”."),
                folder=folder,
            )
    described = texts_parse(config.get("descriptions"), "descriptions")
    unknown = set(described) - set(COLUMNS)
    if unknown:
        raise ConfigurationError(
            gettext_noop("descriptions: unknown columns %(columns)s; the listing has %(choices)s."),
            columns=", ".join(sorted(unknown)),
            choices=", ".join(COLUMNS),
        )
    return FilesConfig(root, alias, tuple(folders), described)


def _values(subject: Subject) -> Iterator[dict[str, str | None]]:
    """The identities a folder may be named by, once for each of the person's addresses (the
    current one, then those they had before): their files may be under any of them."""
    emails: list[str | None] = [email.strip().lower() for email in subject.emails] or [None]
    for email in dict.fromkeys(emails):
        yield {
            "email": email,
            "email_sha256": hashlib.sha256(email.encode()).hexdigest() if email else None,
            "customer_id": subject.customer_id,
            "phone": subject.phone,
        }


# --- what a file says about itself ------------------------------------------------------------


@dataclass(frozen=True)
class FileFacts:
    """What the export's table says about one file."""

    width: int | None = None
    height: int | None = None
    taken_at: str = ""
    camera: str = ""
    location: str = ""
    duration_seconds: float | None = None


def _gps(value: Any) -> float | None:
    try:
        degrees, minutes, seconds = (float(part) for part in value)
    except (TypeError, ValueError):
        return None
    return degrees + minutes / 60 + seconds / 3600


def image_facts(stream: IO[bytes]) -> FileFacts:
    """Read an image's size and EXIF data (camera, time taken, location) without decoding
    its pixels."""
    from PIL import ExifTags, Image, UnidentifiedImageError

    try:
        with Image.open(stream) as image:
            width, height = image.size
            exif = image.getexif()
            details = exif.get_ifd(ExifTags.IFD.Exif)
            gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return FileFacts()
    camera = " ".join(
        str(exif.get(tag, "")).strip("\x00 ") for tag in (ExifTags.Base.Make, ExifTags.Base.Model)
    ).strip()
    taken = details.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime) or ""
    location = ""
    latitude, longitude = (
        _gps(gps.get(ExifTags.GPS.GPSLatitude)),
        _gps(gps.get(ExifTags.GPS.GPSLongitude)),
    )
    if latitude is not None and longitude is not None:
        if gps.get(ExifTags.GPS.GPSLatitudeRef) == "S":
            latitude = -latitude
        if gps.get(ExifTags.GPS.GPSLongitudeRef) == "W":
            longitude = -longitude
        location = f"{latitude:.5f}, {longitude:.5f}"
    offset = details.get(ExifTags.Base.OffsetTimeOriginal) if taken else None
    return FileFacts(width, height, _exif_time(str(taken), offset), camera, location)


def _exif_time(taken: str, offset: object = None) -> str:
    """EXIF's "2025:07:04 20:15:00" as ISO 8601 ("2025-07-04T20:15:00", with the camera's
    UTC offset when it recorded one), like every other time in the copy; what does not read
    as a time is kept as the camera wrote it."""
    taken = taken.strip("\x00 ")
    try:
        # A camera's local time: naive, as written (its offset, if any, is added below).
        when = datetime.strptime(taken, "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007
    except ValueError:
        return taken
    zone = str(offset or "").strip("\x00 ")
    return when.isoformat() + (zone if re.fullmatch(r"[+-]\d\d:\d\d", zone) else "")


_CONTAINERS = frozenset({b"moov", b"trak", b"mdia"})


def video_duration(stream: IO[bytes], *, limit: int = 64 * 1024 * 1024) -> float | None:
    """Return the length in seconds of an MP4 or QuickTime video (from its ``mvhd`` box), or
    None. Reads box headers only, never more than ``limit`` bytes in all."""
    read = 0
    end = None
    while read < limit:
        header = stream.read(8)
        read += len(header)
        if len(header) < 8:
            return None
        size = int.from_bytes(header[:4], "big")
        kind = header[4:]
        body = size - 8
        if size == 1:
            large = stream.read(8)
            read += 8
            body = int.from_bytes(large, "big") - 16
        if body < 0 or (end is not None and read + body > end):
            return None
        if kind in _CONTAINERS:
            end = read + body
            continue
        if kind == b"mvhd":
            data = stream.read(min(body, 120))
            version = data[0] if data else 0
            if version == 1 and len(data) >= 32:
                scale = int.from_bytes(data[20:24], "big")
                length = int.from_bytes(data[24:32], "big")
            elif len(data) >= 20:
                scale = int.from_bytes(data[12:16], "big")
                length = int.from_bytes(data[16:20], "big")
            else:
                return None
            return round(length / scale, 3) if scale else None
        if hasattr(stream, "seek"):
            stream.seek(body, os.SEEK_CUR)
        else:  # pragma: no cover - every storage file can seek
            stream.read(body)
        read += body
    return None


def facts(name: str, stream: IO[bytes]) -> FileFacts:
    """Return what the file says about itself (images and videos; nothing for others)."""
    kind = mimetypes.guess_type(name)[0] or ""
    if kind.startswith("image/"):
        return image_facts(stream)
    if kind in ("video/mp4", "video/quicktime"):
        return FileFacts(duration_seconds=video_duration(stream))
    return FileFacts()


# --- the connector -------------------------------------------------------------------------


@dataclass(frozen=True)
class FoundFile:
    name: str
    relative: str


class FileStoreConnector(Connector):
    """A folder or storage holding each customer's uploads."""

    kind: ClassVar[str] = "files"
    supports: ClassVar[frozenset[str]] = frozenset({"locate", "export", "erase"})

    @classmethod
    def validate_config(cls, config: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        parse_config(connector_config(config))

    @property
    def files_config(self) -> FilesConfig:
        return parse_config(self.config)

    def storage(self) -> Storage:
        config = self.files_config
        if config.root is not None:
            return FileSystemStorage(location=config.root)
        try:
            return storages[str(config.storage)]
        except InvalidStorageError:
            raise ConfigurationError(
                gettext_noop("There is no storage %(name)s in STORAGES."), name=config.storage
            ) from None

    def _folders(self, subject: Subject) -> Iterator[str]:
        seen: set[str] = set()
        for values in _values(subject):
            for template in self.files_config.folders:
                names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
                if any(not values.get(name) for name in names):
                    continue
                if not all(_SAFE_VALUE.match(str(values[name])) for name in names):
                    continue  # not an identity: never a path
                folder = template.format(**values)
                if folder not in seen:
                    seen.add(folder)
                    yield folder

    def _inside(self, storage: Storage, name: str) -> bool:
        """Return True if ``name`` is a regular file or folder under the store's root (no
        symbolic link on the way)."""
        if not isinstance(storage, FileSystemStorage):
            return True
        try:
            path = Path(storage.path(name))
        except SuspiciousFileOperation:
            return False
        root = Path(storage.location).resolve()
        return not path.is_symlink() and path.resolve().is_relative_to(root)

    def _walk(self, storage: Storage, folder: str, depth: int = 0) -> Iterator[str]:
        if depth > MAX_DEPTH or not self._inside(storage, folder):
            return
        try:
            directories, files = storage.listdir(folder)
        except FileNotFoundError:
            return
        except SuspiciousFileOperation:
            return
        for file_name in sorted(files):
            name = f"{folder}/{file_name}"
            if self._inside(storage, name):
                yield name
        for directory in sorted(directories):
            yield from self._walk(storage, f"{folder}/{directory}", depth + 1)

    def _files(self, subject: Subject) -> list[FoundFile]:
        storage = self.storage()
        found: dict[str, FoundFile] = {}
        try:
            for folder in self._folders(subject):
                for name in self._walk(storage, folder):
                    found[name] = FoundFile(name, name[len(folder) + 1 :])
        except PermissionError:
            raise PermanentStoreError(
                gettext_noop("The portal may not read the store's folder.")
            ) from None
        except OSError as error:
            raise TemporaryStoreError(
                gettext_noop("The store's files cannot be read (%(error)s)."),
                error=type(error).__name__,
            ) from None
        return list(found.values())

    def health_check(self) -> HealthResult:
        try:
            storage = self.storage()
            if isinstance(storage, FileSystemStorage):
                root = Path(storage.location)
                if not root.is_dir():
                    return HealthResult(
                        False, _("The folder %(root)s does not exist.") % {"root": root}
                    )
                if not os.access(root, os.R_OK | os.W_OK | os.X_OK):
                    return HealthResult(
                        False, _("The portal may not read and delete in %(root)s.") % {"root": root}
                    )
            storage.listdir("")
        except ConfigurationError as error:
            return HealthResult(False, str(error))
        except OSError as error:
            return HealthResult(
                False,
                _("The store's files cannot be read (%(error)s).")
                % {"error": type(error).__name__},
            )
        return HealthResult(True, _("The store's folder can be read."))

    def locate(self, subject: Subject) -> LocateResult:
        found = self._files(subject)
        return LocateResult({"files": len(found)} if found else {})

    def export(self, subject: Subject, sink: ExportSink) -> ExportResult:
        storage = self.storage()
        found = self._files(subject)
        if not found:
            return ExportResult({})
        listing = []
        for item in found:
            size = storage.size(item.name)
            modified = _modified(storage, item.name)
            with storage.open(item.name, "rb") as stream:
                about = facts(item.name, stream)
                stream.seek(0)
                sink.file(
                    PurePosixPath(item.name).name,
                    stream,
                    description=_describe(item.relative, size, about),
                )
            listing.append(
                (
                    item.relative,
                    size,
                    mimetypes.guess_type(item.name)[0] or "",
                    modified,
                    about.width,
                    about.height,
                    about.taken_at,
                    about.camera,
                    about.location,
                    about.duration_seconds,
                )
            )
        descriptions: dict[str, StrOrPromise] = dict(_DESCRIPTIONS)
        for column, text in self.files_config.descriptions.items():
            descriptions[column] = text_lazy(text)
        count = sink.table("files", COLUMNS, listing, descriptions=descriptions)
        return ExportResult({"files": count}, files=len(found))

    def erase(self, subject: Subject) -> EraseResult:
        storage = self.storage()
        found = self._files(subject)
        deleted = 0
        for item in found:
            try:
                storage.delete(item.name)
            except FileNotFoundError:
                continue
            except OSError as error:
                raise TemporaryStoreError(
                    gettext_noop("A file could not be deleted (%(error)s)."),
                    error=type(error).__name__,
                ) from None
            deleted += 1
        if isinstance(storage, FileSystemStorage):
            for folder in self._folders(subject):
                _remove_empty_folders(storage, folder)
        left = len(self._files(subject))
        return EraseResult(deleted={"files": deleted} if deleted else {}, remaining={"files": left})

    def erasure_plan(self) -> list[PlannedErasure]:
        return [PlannedErasure(entity="files", action="delete")]


def _modified(storage: Storage, name: str) -> str:
    try:
        stamp: datetime = storage.get_modified_time(name)
    except (NotImplementedError, OSError):
        return ""
    return stamp.isoformat(timespec="seconds")


def _describe(relative: str, size: int, about: FileFacts) -> str:
    parts = [relative, _("%(n)s bytes") % {"n": f"{size:,}"}]
    if about.width and about.height:
        parts.append(
            _("%(width)d by %(height)d pixels") % {"width": about.width, "height": about.height}
        )
    if about.taken_at:
        parts.append(_("taken %(when)s") % {"when": about.taken_at})
    if about.camera:
        parts.append(about.camera)
    if about.location:
        parts.append(_("location %(where)s") % {"where": about.location})
    if about.duration_seconds is not None:
        parts.append(_("%(seconds)s seconds long") % {"seconds": f"{about.duration_seconds:g}"})
    return ", ".join(parts)


def _remove_empty_folders(storage: FileSystemStorage, folder: str) -> None:
    try:
        top = Path(storage.path(folder))
    except SuspiciousFileOperation:
        return
    root = Path(storage.location).resolve()
    if top.is_symlink() or not top.is_dir() or not top.resolve().is_relative_to(root):
        return
    for path, _directories, _files in os.walk(top, topdown=False, followlinks=False):
        try:
            os.rmdir(path)
        except OSError:
            continue
