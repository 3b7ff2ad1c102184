"""The demo uploads folder: a few real JPEG photos per demo customer, generated with Pillow at
seed time, carrying EXIF data (camera make and model, when and where they were taken), as
photos from a phone or camera do."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import ExifTags, Image, ImageDraw

#: The demo store's folder layout (see the file-store connector).
FOLDER = "customers/{email_sha256}"


def _texts(en: str, de: str) -> dict[str, str]:
    return {"en": en, "de": de}


#: What the columns of the listing of a person's uploads mean (the store's configuration),
#: in English and German.
DESCRIPTIONS: dict[str, dict[str, str]] = {
    "name": _texts(
        "File name of the photo or video you uploaded",
        "Dateiname des Fotos oder Videos, das Sie hochgeladen haben",
    ),
    "bytes": _texts("Size of the file, in bytes", "Größe der Datei in Byte"),
    "content_type": _texts(
        "Kind of file (for example image/jpeg for a photo)",
        "Art der Datei (zum Beispiel image/jpeg für ein Foto)",
    ),
    "modified": _texts(
        "When the file was last changed on our servers",
        "Wann die Datei auf unseren Servern zuletzt geändert wurde",
    ),
    "width": _texts(
        "Width of the photo or video, in pixels", "Breite des Fotos oder Videos in Pixeln"
    ),
    "height": _texts(
        "Height of the photo or video, in pixels", "Höhe des Fotos oder Videos in Pixeln"
    ),
    "taken_at": _texts(
        "When the photo was taken, as your camera recorded it (EXIF data)",
        "Wann das Foto aufgenommen wurde, wie Ihre Kamera es gespeichert hat (EXIF-Daten)",
    ),
    "camera": _texts(
        "Make and model of the camera or phone (EXIF data)",
        "Hersteller und Modell der Kamera oder des Telefons (EXIF-Daten)",
    ),
    "location": _texts(
        "Where the photo was taken, as latitude and longitude (EXIF data)",
        "Wo das Foto aufgenommen wurde, als Breiten- und Längengrad (EXIF-Daten)",
    ),
    "video_seconds": _texts("Length of a video, in seconds", "Länge eines Videos in Sekunden"),
}


@dataclass(frozen=True)
class Photo:
    name: str
    make: str
    model: str
    taken: datetime
    latitude: float
    longitude: float
    colour: tuple[int, int, int]


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 2)
    return float(degrees), float(minutes), seconds


def jpeg_with_exif(path: Path, photo: Photo, *, size: tuple[int, int] = (960, 640)) -> None:
    """Write a JPEG photo with the EXIF data of ``photo``."""
    image = Image.new("RGB", size, photo.colour)
    draw = ImageDraw.Draw(image)
    width, height = size
    for step in range(0, height, 8):
        shade = tuple(min(255, channel + step // 6) for channel in photo.colour)
        draw.rectangle((0, step, width, step + 8), fill=shade)
    draw.ellipse((width * 0.62, height * 0.12, width * 0.82, height * 0.42), fill=(250, 220, 120))
    draw.polygon(
        [(0, height), (width * 0.35, height * 0.45), (width * 0.7, height)], fill=(40, 70, 50)
    )
    draw.text((24, 24), f"Inper demo photo · {photo.name}", fill=(255, 255, 255))
    exif = Image.Exif()
    stamp = photo.taken.strftime("%Y:%m:%d %H:%M:%S")
    exif[ExifTags.Base.Make] = photo.make
    exif[ExifTags.Base.Model] = photo.model
    exif[ExifTags.Base.DateTime] = stamp
    exif[ExifTags.Base.Software] = "Inper demo"
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = stamp
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N" if photo.latitude >= 0 else "S"
    gps[ExifTags.GPS.GPSLatitude] = _dms(photo.latitude)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E" if photo.longitude >= 0 else "W"
    gps[ExifTags.GPS.GPSLongitude] = _dms(photo.longitude)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", exif=exif, quality=82)


def folder_of(email: str) -> str:
    """Return the folder of a person's uploads in the demo store."""
    return FOLDER.format(email_sha256=hashlib.sha256(email.strip().lower().encode()).hexdigest())


def fill(root: Path, photos_by_email: dict[str, list[Photo]]) -> int:
    """Write the photos of each person that are missing (so a re-run restores erased ones);
    return how many were written."""
    written = 0
    for email, photos in photos_by_email.items():
        for photo in photos:
            path = root / folder_of(email) / photo.name
            if not path.exists():
                jpeg_with_exif(path, photo)
                written += 1
    return written
