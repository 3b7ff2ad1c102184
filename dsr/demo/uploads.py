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
