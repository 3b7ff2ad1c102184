"""Access packages: written by streaming, encrypted at rest, downloaded by the requester only.

Each store's export task writes its part (JSON and CSV per entity, and files) into a work
folder of the request, every file deflated as a ZIP member holds it and encrypted with the
package's own key, with its size, CRC-32 and SHA-256. When all parts are in,
:func:`package_build` streams them into one ZIP (copying the deflated bytes), with
``index.html`` (the cover letter with the GDPR Art. 15 information), ``manifest.json`` (every
file with its SHA-256 and size, record counts and sources) and ``data-dictionary.json``,
encrypting it on the way. Memory use stays at a few buffers whatever the size of the data.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import secrets
import shutil
import time
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django_stubs_ext import StrOrPromise
from isal import isal_zlib

from privacy_portal import crypto
from privacy_portal.audit.services import audit_record
from privacy_portal.categories import DataCategory
from privacy_portal.spreadsheet import csv_cell

from .connectors.base import ExportResult
from .models import (
    Action,
    DataStore,
    DataSubjectRequest,
    ExportPackage,
    RequestType,
    StoreTask,
    TaskState,
)

logger = logging.getLogger(__name__)

# Letters and digits of every script (a ZIP names them in UTF-8), "_", "." and "-"; no
# separators, controls, invisible or direction-changing characters.
_SAFE = re.compile(r"[^\w.-]+")
_CSV_FLUSH_ROWS = 500


def _safe_name(name: str, fallback: str = "item") -> str:
    """``name`` in characters every file system and ZIP reader takes, at most 120 long; a
    long name is shortened before its extension (``.csv``), which says how to open it."""
    cleaned = _SAFE.sub("_", unicodedata.normalize("NFC", name)).strip("._")
    if len(cleaned) > 120:
        stem, dot, extension = cleaned.rpartition(".")
        kept = f".{extension}" if dot and stem and len(extension) <= 10 else ""
        cleaned = cleaned[: 120 - len(kept)].rstrip("._") + kept
    return cleaned or fallback


def _iso(value: datetime | date) -> str:
    """ISO 8601 as PostgreSQL writes it in JSON (so that a package reads the same whichever
    way it was made): a time's fraction of a second without trailing zeros."""
    text = value.isoformat()
    if isinstance(value, datetime) and value.microsecond:
        dot = text.index(".")
        text = text[: dot + 1] + text[dot + 1 : dot + 7].rstrip("0") + text[dot + 7 :]
    return text


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return _iso(value)
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


#: The byte order mark that starts every CSV file of a package: without it, spreadsheets that
#: guess the encoding (Excel) show "MÃ¼ller" for "Müller".
CSV_BOM = "\ufeff".encode()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, default=_json_value)
    elif isinstance(value, bytes | memoryview):
        text = bytes(value).hex()  # as in the JSON file (not Python's repr)
    elif isinstance(value, datetime | date):
        text = _iso(value)
    else:
        text = str(value)
    return str(csv_cell(text))


_JSON = json.JSONEncoder(ensure_ascii=False, default=_json_value)


def _csv_row(row: Sequence[Any]) -> list[Any]:
    """Return the CSV cells of a row (as :func:`_csv_value`, with the common types inline)."""
    cells: list[Any] = []
    for value in row:
        kind = type(value)
        if kind is str:
            cells.append(csv_cell(value))
        elif value is None:
            cells.append("")
        elif kind is int:
            cells.append(str(value))  # a number: a spreadsheet shows it as it is
        else:
            cells.append(_csv_value(value))
    return cells


def storage_dir() -> Path:
    return Path(settings.DSR_STORAGE_DIR)


def _work_dir(request_id: int) -> Path:
    return storage_dir() / "work" / str(request_id)


# --- parts written by the export tasks ---------------------------------------------------------

# Deflate level 1: three times faster than the default on table data, about 10% larger.
ZIP_LEVEL = 1
# The parts' bulk is deflated with ISA-L (the same raw deflate that any ZIP reader inflates):
# on a 38 MB export, 27 ms at its level 1 against zlib's 127 ms, and 15 % smaller.
PART_LEVEL = 1


class _DeflatingWriter:
    """Deflates what is written into ``out`` (raw deflate: the bytes a ZIP member holds), and
    keeps what the member's ZIP entry and the manifest need of the plain bytes: their size,
    CRC-32 and SHA-256. Compressing here, while the database still encodes the rows, leaves
    the package build only bytes to copy."""

    def __init__(self, out: crypto.EncryptingWriter) -> None:
        self.out = out
        self._deflate: Any = isal_zlib.compressobj(PART_LEVEL, isal_zlib.DEFLATED, -15)
        self._sha256 = hashlib.sha256()
        self.crc = 0
        self.size = 0
        self.compressed = 0

    def write(self, data: bytes | memoryview) -> int:
        self.crc = isal_zlib.crc32(data, self.crc)
        self._sha256.update(data)
        self.size += len(data)
        self._put(self._deflate.compress(data))
        return len(data)

    def _put(self, chunk: bytes) -> None:
        if chunk:
            self.out.write(chunk)
            self.compressed += len(chunk)

    def close(self) -> None:
        if self._deflate is not None:
            self._put(self._deflate.flush())
            self._deflate = None
        self.out.close()

    def entry(self) -> dict[str, Any]:
        """What :func:`_copy_member` needs (the part's metadata keeps it)."""
        return {
            "crc": self.crc,
            "size": self.size,
            "compressed": self.compressed,
            "sha256": self._sha256.hexdigest(),
        }


class _JsonLines:
    """A writer that takes JSON objects one per line, each followed by a comma (``{...},``),
    and passes them on as the elements of the JSON array :meth:`PartSink.table` writes (the
    same bytes): the stream's last two bytes, the last element's comma and line end, are held
    back, and dropped at the end."""

    def __init__(self, out: _DeflatingWriter) -> None:
        self.out = out
        self.count = 0
        self.held = b"\n"  # the line end after the array's "[", written before the first line

    def write(self, data: bytes | memoryview) -> int:
        stream = self.held + data
        self.count += stream.count(b"\n", len(self.held))
        self.held = stream[-2:]
        self.out.write(memoryview(stream)[:-2])
        return len(data)

    def close(self) -> None:
        if self.count and self.held != b",\n":
            raise ValueError("a JSON line without its comma")
        self.held = b""


@dataclass
class RawTable:
    """Where an entity encoded by the database goes (see :meth:`PartSink.raw_table`)."""

    csv: _DeflatingWriter
    json: _JsonLines

    @property
    def records(self) -> int:
        return self.json.count


class PartSink:
    """The :class:`~dsr.connectors.base.ExportSink` of one store's export task.

    Writes into a fresh folder; :meth:`commit` puts it in place of any earlier attempt's
    part, so that a re-run task never leaves half a part behind.
    """

    def __init__(self, request_id: int, store_key: str, key: bytes, *, language: str = "") -> None:
        self.request_id = request_id
        self.store_key = store_key
        self.key = key
        # The person reads the data dictionary: its texts are in their request's language.
        self.language = language or settings.LANGUAGE_CODE
        self.final = _work_dir(request_id) / _safe_name(store_key)
        self.tmp = self.final.with_name(f"{self.final.name}.tmp-{secrets.token_hex(4)}")
        self.entities: list[dict[str, Any]] = []
        self.files: list[dict[str, Any]] = []

    @classmethod
    def for_task(cls, task: StoreTask) -> PartSink:
        package = ExportPackage.objects.get(request_id=task.request_id)
        return cls(task.request_id, task.store.key, package.key(), language=task.request.language)

    def __enter__(self) -> PartSink:
        self.tmp.mkdir(parents=True, exist_ok=False)
        (self.tmp / "files").mkdir()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.tmp.exists():
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _open(self, path: Path) -> tuple[IO[bytes], crypto.EncryptingWriter]:
        raw = path.open("xb")
        return raw, crypto.EncryptingWriter(raw, self.key)

    def _open_member(self, path: Path) -> tuple[IO[bytes], _DeflatingWriter]:
        raw, out = self._open(path)
        return raw, _DeflatingWriter(out)

    def table(
        self,
        entity: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        descriptions: Mapping[str, StrOrPromise] | None = None,
    ) -> int:
        name = _safe_name(entity, "records")
        if any(existing["name"] == name for existing in self.entities):
            name = f"{name}_{len(self.entities)}"
        columns = [str(column) for column in columns]
        json_raw, json_out = self._open_member(self.tmp / f"{name}.json.enc")
        csv_raw, csv_out = self._open_member(self.tmp / f"{name}.csv.enc")
        csv_out.write(CSV_BOM)
        count = 0
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        # Rows are encoded one by one but written in batches: per-row writes and per-call
        # encoder set-up cost more than the encoding itself on large tables.
        records: list[str] = []
        try:
            json_out.write(b"[")
            for row in rows:
                records.append(_JSON.encode(dict(zip(columns, row, strict=False))))
                writer.writerow(_csv_row(row))
                count += 1
                if count % _CSV_FLUSH_ROWS == 0:
                    first = count == _CSV_FLUSH_ROWS
                    json_out.write(((",\n", "\n")[first] + ",\n".join(records)).encode())
                    records.clear()
                    csv_out.write(buffer.getvalue().encode())
                    buffer.seek(0)
                    buffer.truncate()
            if records:
                first = count == len(records)
                json_out.write(((",\n", "\n")[first] + ",\n".join(records)).encode())
            json_out.write(b"\n]\n")
            csv_out.write(buffer.getvalue().encode())
        finally:
            json_out.close()
            csv_out.close()
            json_raw.close()
            csv_raw.close()
        self.entities.append(
            {
                "name": name,
                "entity": entity,
                "columns": columns,
                "descriptions": self._texts(descriptions),
                "records": count,
                "zip": {"json": json_out.entry(), "csv": csv_out.entry()},
            }
        )
        return count

    @contextmanager
    def raw_table(
        self,
        entity: str,
        columns: Sequence[str],
        *,
        descriptions: Mapping[str, StrOrPromise] | None = None,
    ) -> Iterator[RawTable]:
        """Write one entity from data a database encoded itself (PostgreSQL's ``COPY``): CSV
        with its header line into ``csv``, one JSON object per line into ``json``. An entity
        with no records is left out."""
        name = _safe_name(entity, "records")
        if any(existing["name"] == name for existing in self.entities):
            name = f"{name}_{len(self.entities)}"
        json_path, csv_path = self.tmp / f"{name}.json.enc", self.tmp / f"{name}.csv.enc"
        json_raw, json_out = self._open_member(json_path)
        csv_raw, csv_out = self._open_member(csv_path)
        csv_out.write(CSV_BOM)
        lines = _JsonLines(json_out)
        try:
            json_out.write(b"[")
            yield RawTable(csv=csv_out, json=lines)
            lines.close()
            json_out.write(b"\n]\n")
        finally:
            json_out.close()
            csv_out.close()
            json_raw.close()
            csv_raw.close()
        if not lines.count:
            json_path.unlink()
            csv_path.unlink()
            return
        self.entities.append(
            {
                "name": name,
                "entity": entity,
                "columns": [str(column) for column in columns],
                "descriptions": self._texts(descriptions),
                "records": lines.count,
                "zip": {"json": json_out.entry(), "csv": csv_out.entry()},
            }
        )

    def _texts(self, descriptions: Mapping[str, StrOrPromise] | None) -> dict[str, str]:
        with translation.override(self.language):
            return {str(k): str(v) for k, v in (descriptions or {}).items()}

    def file(self, name: str, stream: IO[bytes], *, description: str = "") -> None:
        index = len(self.files)
        raw, out = self._open_member(self.tmp / "files" / f"{index}.enc")
        try:
            while chunk := stream.read(crypto.STREAM_CHUNK):
                out.write(chunk)
        finally:
            out.close()
            raw.close()
        safe = _safe_name(Path(name).name, f"file-{index}")
        if any(existing["name"] == safe for existing in self.files):
            safe = f"{index}-{safe}"
        self.files.append(
            {
                "index": index,
                "name": safe,
                "description": description,
                "zip": out.entry(),
            }
        )

    def commit(self, result: ExportResult) -> None:
        """Record the part's contents and put the part in place of any earlier one."""
        meta = {"store": self.store_key, "entities": self.entities, "files": self.files}
        raw, out = self._open(self.tmp / "meta.json.enc")
        try:
            out.write(json.dumps(meta).encode())
        finally:
            out.close()
            raw.close()
        if self.final.exists():
            shutil.rmtree(self.final)
        self.tmp.rename(self.final)


def _read_encrypted(path: Path, key: bytes) -> Iterator[bytes]:
    with path.open("rb") as raw:
        yield from crypto.decrypt_stream(raw, key)


# --- building the package ----------------------------------------------------------------------


def package_prepare(request: DataSubjectRequest) -> ExportPackage:
    """Create the package record (and its key) of an access or portability request."""
    package, _ = ExportPackage.objects.get_or_create(
        request=request,
        defaults={"key_encrypted": crypto.encrypt(crypto.new_stream_key())},
    )
    return package


class _HashingWriter:
    """Counts and hashes what is written through it (for the manifest)."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.target.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.target.flush()


@dataclass
class _Member:
    path: str
    sha256: str
    bytes: int
    source: str
    records: int | None = None


def _write_member(
    archive: zipfile.ZipFile,
    path: str,
    chunks: Iterable[bytes],
    source: str,
    records: int | None = None,
) -> _Member:
    with archive.open(path, "w", force_zip64=True) as handle:
        hashing = _HashingWriter(handle)
        for chunk in chunks:
            hashing.write(chunk)
    return _Member(path, hashing.digest.hexdigest(), hashing.size, source, records)


class _AlreadyDeflated:
    """Stands in for the ZIP writer's compressor for bytes that are deflated already."""

    @staticmethod
    def compress(data: bytes) -> bytes:
        return data

    @staticmethod
    def flush() -> bytes:
        return b""


def _copy_member(
    archive: zipfile.ZipFile,
    path: str,
    deflated: Iterable[bytes],
    entry: Mapping[str, Any],
    source: str,
    records: int | None = None,
) -> _Member:
    """Add a member whose bytes were deflated by :class:`_DeflatingWriter`. CPython's ZIP
    writer still writes the local header, the data descriptor and the central directory;
    it is only told that the bytes are compressed already, and the plain bytes' size and CRC."""
    info = zipfile.ZipInfo(path, date_time=time.localtime()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    handle: Any = archive.open(info, "w", force_zip64=True)
    with handle:
        handle._compressor = _AlreadyDeflated
        for chunk in deflated:
            handle.write(chunk)
        if handle._compress_size != entry["compressed"]:
            raise ValueError(f"{path}: the part is not as it was written")
        handle._file_size = entry["size"]
        handle._crc = entry["crc"]
    return _Member(path, entry["sha256"], entry["size"], source, records)


#: Up to how many files of a system the cover letter links one by one.
_FILES_LINKED = 20


def _add_member(
    archive: zipfile.ZipFile,
    path: str,
    encrypted: Path,
    key: bytes,
    entry: Mapping[str, Any] | None,
    source: str,
    records: int | None = None,
) -> _Member:
    chunks = _read_encrypted(encrypted, key)
    if entry is None:  # a part written before parts were deflated
        return _write_member(archive, path, chunks, source, records)
    return _copy_member(archive, path, chunks, entry, source, records)


def _claim_build(request_id: int) -> ExportPackage | None:
    now = timezone.now()
    stale = now - timedelta(seconds=max(settings.CELERY_TASK_TIME_LIMIT, 600))
    with transaction.atomic():
        package = (
            ExportPackage.objects.select_for_update()
            .filter(request_id=request_id, built_at__isnull=True, purged_at__isnull=True)
            .first()
        )
        if package is None or (package.building_since and package.building_since > stale):
            return None
        package.building_since = now
        package.save(update_fields=("building_since",))
    return package


def package_build(request_id: int) -> None:
    """Assemble the request's package from the stores' parts, then advance the request."""
    package = _claim_build(request_id)
    if package is None:
        return
    request = DataSubjectRequest.objects.get(pk=request_id)
    language = request.language or settings.LANGUAGE_CODE
    key = package.key()
    exported = list(
        StoreTask.objects.filter(request=request, action="export", state=TaskState.SUCCEEDED)
        .select_related("store")
        .order_by("store__position", "store__name")
    )
    folder = storage_dir() / "packages"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{secrets.token_hex(16)}.zip.enc"
    members: list[_Member] = []
    dictionary: dict[str, Any] = {}
    sources: dict[str, Any] = {}
    with target.open("xb") as raw:
        outer = _HashingWriter(raw)
        writer = crypto.EncryptingWriter(outer, key)
        with zipfile.ZipFile(
            writer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL
        ) as archive:
            for task in exported:
                part = _work_dir(request_id) / _safe_name(task.store.key)
                meta_path = part / "meta.json.enc"
                if not meta_path.exists():
                    continue
                meta = json.loads(b"".join(_read_encrypted(meta_path, key)))
                store_dir = f"stores/{_safe_name(task.store.key)}"
                # The person reads the store's name in their language (the registry's names).
                name = task.store.display_name(language)
                sources[task.store.key] = {"name": name, "records": {}, "files": 0}
                dictionary[task.store.key] = {"name": name, "entities": {}}
                for entity in meta["entities"]:
                    for extension in ("json", "csv"):
                        members.append(
                            _add_member(
                                archive,
                                f"{store_dir}/{entity['name']}.{extension}",
                                part / f"{entity['name']}.{extension}.enc",
                                key,
                                entity.get("zip", {}).get(extension),
                                task.store.key,
                                entity["records"],
                            )
                        )
                    sources[task.store.key]["records"][entity["name"]] = entity["records"]
                    dictionary[task.store.key]["entities"][entity["name"]] = {
                        "records": entity["records"],
                        "columns": {
                            column: entity["descriptions"].get(column, "")
                            for column in entity["columns"]
                        },
                    }
                for item in meta["files"]:
                    members.append(
                        _add_member(
                            archive,
                            f"{store_dir}/files/{item['name']}",
                            part / "files" / f"{item['index']}.enc",
                            key,
                            item.get("zip"),
                            task.store.key,
                        )
                    )
                sources[task.store.key]["files"] = len(meta["files"])
                # A few files are linked one by one on the cover letter; many, by their folder.
                sources[task.store.key]["file_names"] = [
                    item["name"] for item in meta["files"][:_FILES_LINKED]
                ]
                if meta["files"]:
                    dictionary[task.store.key]["files"] = {
                        f"files/{item['name']}": item["description"] for item in meta["files"]
                    }
            failed = [
                task.store.display_name(language)
                for task in StoreTask.objects.filter(
                    request=request, action="export", state=TaskState.FAILED
                )
                .select_related("store")
                .order_by("store__position", "store__name")
            ]
            dictionary_bytes = json.dumps(dictionary, indent=2, ensure_ascii=False).encode()
            members.append(
                _write_member(archive, "data-dictionary.json", [dictionary_bytes], "portal")
            )
            index = _cover_letter(request, sources, failed)
            members.append(_write_member(archive, "index.html", [index.encode()], "portal"))
            manifest = {
                "reference": request.reference,
                "type": request.type,
                "generated_at": timezone.now().isoformat(),
                "sources": sources,
                "incomplete_sources": failed,
                "files": [member.__dict__ for member in members],
            }
            archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        writer.close()
    now = timezone.now()
    old = package.storage_name
    package.storage_name = str(target.relative_to(storage_dir()))
    package.size = outer.size
    package.sha256 = outer.digest.hexdigest()
    package.manifest = {
        "sources": {k: {"records": v["records"], "files": v["files"]} for k, v in sources.items()},
        "members": len(members) + 1,
        "incomplete_sources": len(failed),
    }
    package.built_at = now
    package.building_since = None
    package.expires_at = now + timedelta(days=settings.DSR_PACKAGE_DAYS)
    # Not the key: it may have been re-encrypted under a new key while the package was built
    # (rotate_encryption_keys), and the copy read at the start is under the old one. And only
    # if the person's erasure did not purge the package meanwhile.
    built = (
        "storage_name",
        "size",
        "sha256",
        "manifest",
        "built_at",
        "building_since",
        "expires_at",
    )
    saved = ExportPackage.objects.filter(pk=package.pk, purged_at__isnull=True).update(
        **{name: getattr(package, name) for name in built}
    )
    if not saved:
        target.unlink(missing_ok=True)
        shutil.rmtree(_work_dir(request_id), ignore_errors=True)
        from .engine import request_advance

        request_advance(request_id)
        return
    if old and old != package.storage_name:
        (storage_dir() / old).unlink(missing_ok=True)
    if not failed:
        # With a store missing, the parts stay (encrypted, until the package is purged): staff
        # may retry that store, and the package is then built again from every part.
        shutil.rmtree(_work_dir(request_id), ignore_errors=True)
    audit_record(
        actor=None,
        action="dsr.package.built",
        target=package,
        scope=request,
        after={"members": len(members) + 1, "bytes": package.size},
    )
    from .engine import request_advance

    request_advance(request_id)


def _cover_letter(
    request: DataSubjectRequest, sources: Mapping[str, Any], failed: Sequence[str]
) -> str:
    from .services import connector_supports
    from .texts import store_entity_name

    language = request.language or settings.LANGUAGE_CODE
    stores = list(DataStore.objects.filter(enabled=True).order_by("position", "name"))
    categories = dict(DataCategory.choices)
    rows = []
    for store in stores:
        found = sources.get(store.key)
        if found is not None:
            # What the person reads the records as ("Bestellungen"), not the files' names.
            folder = f"stores/{_safe_name(store.key)}"
            entities = [
                {
                    "name": store_entity_name(store, entity, language),
                    "count": count,
                    # Links that open the files once the package is unpacked.
                    "csv": f"{folder}/{entity}.csv",
                    "json": f"{folder}/{entity}.json",
                }
                for entity, count in found["records"].items()
            ]
            found = {
                **found,
                "entities": entities,
                "folder": folder,
                "files_listed": "files" in found["records"],
            }
        rows.append(
            {
                "store": store,
                "categories": [categories.get(c, c) for c in store.categories],
                "found": found,
                # Told of requests, or erasing on request, but never asked for a copy: not
                # "nothing", which would say it holds nothing.
                "not_searched": not connector_supports(store, Action.EXPORT),
            }
        )
    with translation.override(language):
        return render_to_string(
            "dsr/package/index.html",
            {
                "request": request,
                "portability": request.type == RequestType.PORTABILITY,
                "stores": rows,
                "failed": failed,
                "generated_at": timezone.now(),
                "privacy_email": settings.PORTAL_PRIVACY_EMAIL,
            },
        )


# --- downloading and purging -------------------------------------------------------------------


def package_path(package: ExportPackage) -> Path:
    return storage_dir() / package.storage_name


def package_chunks(package: ExportPackage) -> Iterator[bytes]:
    """Yield the decrypted ZIP, chunk by chunk."""
    yield from _read_encrypted(package_path(package), package.key())


def package_is_available(package: ExportPackage) -> bool:
    return bool(
        package.built_at
        and package.purged_at is None
        and package.expires_at
        and package.expires_at > timezone.now()
        and package.storage_name
    )


@transaction.atomic
def package_record_download(*, package: ExportPackage, actor: Any) -> None:
    """Count and audit one download."""
    ExportPackage.objects.filter(pk=package.pk).update(
        download_count=F("download_count") + 1, last_downloaded_at=timezone.now()
    )
    audit_record(
        actor=actor,
        action="dsr.package.downloaded",
        target=package,
        scope=f"dsr.datasubjectrequest:{package.request_id}",
    )


def _purge(packages: list[ExportPackage], now: datetime) -> None:
    """Delete each package's key (the file cannot be read without it) and, once committed, its
    file; audit each."""
    paths = [package_path(package) for package in packages if package.storage_name]
    folders = [_work_dir(package.request_id) for package in packages]
    ExportPackage.objects.filter(pk__in=[package.pk for package in packages]).update(
        purged_at=now, storage_name="", key_encrypted=b""
    )
    for package in packages:
        audit_record(
            actor=None,
            action="dsr.package.purged",
            target=package,
            scope=f"dsr.datasubjectrequest:{package.request_id}",
        )
    transaction.on_commit(lambda: _unlink(paths, folders))


def parts_discard_on_commit(request_id: int) -> None:
    """Delete the request's parts once the caller's transaction commits."""
    folder = _work_dir(request_id)
    transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))


def _unlink(paths: list[Path], folders: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def packages_discard(packages: QuerySet[ExportPackage], *, now: datetime) -> int:
    """Purge ``packages`` (their keys, files and parts), whatever their expiry."""
    found = list(packages.filter(purged_at__isnull=True))
    _purge(found, now)
    return len(found)


def package_purge_expired(*, now: datetime | None = None, dry_run: bool = False) -> list[int]:
    """Delete expired packages (the file and its key); return the ids purged."""
    now = now or timezone.now()
    expired = list(ExportPackage.objects.filter(expires_at__lt=now, purged_at__isnull=True))
    if not dry_run:
        with transaction.atomic():
            _purge(expired, now)
    return [package.pk for package in expired]


def packages_purge(
    queryset: QuerySet[ExportPackage], identity: Mapping[str, Any]
) -> tuple[int, int]:
    """Erase a person's copies of their data (the portal store's erasure hook): purge every
    package of their earlier requests (``queryset``) at once, whatever its expiry, and those
    still being made (their build then stops, and the request says why it has no copy)."""
    # ``queryset`` holds the finished copies only (what an access request lists).
    return packages_discard(ExportPackage.objects.filter(**identity), now=timezone.now()), 0
