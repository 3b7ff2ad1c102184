"""A read-only snapshot of the catalogue (purposes, their current texts, cookie services, the
policy versions in force), cached so that hot paths (banner, API reads) do not query it.

The snapshot is plain frozen dataclasses, shared through the cache by every process and
rebuilt after any change to the catalogue (:func:`catalogue_invalidate`, called on commit).
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from dataclasses import dataclass, field
from typing import Any

from django.conf import global_settings, settings
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import transaction
from django.utils import timezone

from .models import (
    CookieService,
    LegalBasis,
    PolicyDocument,
    PolicyVersion,
    Purpose,
    PurposeKind,
    PurposeVersion,
    pick_language,
    text_hash,
    text_of,
)

CACHE_KEY = "consent:catalogue:v1"
GENERATION_KEY = "consent:catalogue:generation"
CACHE_SECONDS = 300


# The banner's cookie on Inper's other sites (``CONSENT_COOKIE_NAME`` is the portal's).
SITE_CONSENT_COOKIE = "inper_consent"


@dataclass(frozen=True)
class CookieInfo:
    name: str
    domain: str
    first_party: bool
    texts: dict[str, Any]

    def purpose(self, language: str | None = None) -> str:
        return text_of(self.texts, "purpose", language)

    def lifetime(self, language: str | None = None) -> str:
        return text_of(self.texts, "lifetime", language)

    @property
    def name_here(self) -> str:
        """The name this portal gives the cookie: the catalogue names the cookies of Inper's
        sites (``sessionid``); in production the portal's own are ``__Host-`` cookies."""
        if not self.first_party:
            return self.name
        return {
            global_settings.SESSION_COOKIE_NAME: settings.SESSION_COOKIE_NAME,
            global_settings.CSRF_COOKIE_NAME: settings.CSRF_COOKIE_NAME,
            global_settings.LANGUAGE_COOKIE_NAME: settings.LANGUAGE_COOKIE_NAME,
            SITE_CONSENT_COOKIE: settings.CONSENT_COOKIE_NAME,
        }.get(self.name, self.name)


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    provider: str
    privacy_url: str
    texts: dict[str, Any]
    cookies: tuple[CookieInfo, ...]

    def description(self, language: str | None = None) -> str:
        return text_of(self.texts, "description", language)

    def label(self, language: str | None = None) -> str:
        """The service's name in ``language`` where it has one ("Inper-Websites"), else its
        name (a product's name, "Google Analytics", is the same in every language)."""
        return text_of(self.texts, "name", language) or self.name


@dataclass(frozen=True)
class PurposeInfo:
    id: int
    key: str
    kind: str
    channel: str
    legal_basis: str
    default_granted: bool
    always_on: bool
    honours_gpc: bool
    double_opt_in: bool
    version_id: int
    version: int
    # The highest version number whose change was material: a consent given on an earlier
    # version no longer counts.
    material_version: int
    texts: dict[str, Any]
    services: tuple[ServiceInfo, ...] = ()

    @property
    def switchable(self) -> bool:
        return not self.always_on and self.legal_basis in (
            LegalBasis.CONSENT,
            LegalBasis.LEGITIMATE_INTEREST,
        )

    @property
    def is_objection(self) -> bool:
        """Switching it off is an objection (legitimate interest), not a withdrawal of
        consent (as :attr:`consent.models.Purpose.is_objection`)."""
        return self.legal_basis == LegalBasis.LEGITIMATE_INTEREST

    @property
    def by_default(self) -> bool:
        return self.always_on or self.default_granted

    def title(self, language: str | None = None) -> str:
        return text_of(self.texts, "title", language)

    def description(self, language: str | None = None) -> str:
        return text_of(self.texts, "description", language)

    def shown(self, language: str | None) -> tuple[str, str]:
        """Return ``(language, hash)`` of the text this purpose shows in ``language``."""
        shown_language = pick_language(self.texts, language) if self.texts else "en"
        return shown_language, text_hash(self.texts, ("title", "description"), shown_language)

    def counts(self, *, granted: bool, version: int) -> bool:
        """Return whether a recorded choice still holds: a consent given on a version before the
        last material change is asked again, never carried over."""
        if granted and self.legal_basis == LegalBasis.CONSENT:
            return version >= self.material_version
        return True


@dataclass(frozen=True)
class PolicyInfo:
    id: int
    version: int
    published_at: Any
    material: bool


@dataclass(frozen=True)
class Catalogue:
    purposes: tuple[PurposeInfo, ...]
    statement: PolicyInfo | None
    cookie_policy: PolicyInfo | None
    # The latest cookie policy version whose change was material: a banner choice made under an
    # earlier one is asked again.
    cookie_policy_material_version: int
    by_key: dict[str, PurposeInfo] = field(default_factory=dict)
    by_id: dict[int, PurposeInfo] = field(default_factory=dict)

    def of_kind(self, *kinds: str) -> list[PurposeInfo]:
        return [purpose for purpose in self.purposes if purpose.kind in kinds]

    @property
    def cookie_categories(self) -> list[PurposeInfo]:
        return self.of_kind(PurposeKind.COOKIE)

    def policy_for(self, purpose: PurposeInfo) -> PolicyInfo | None:
        """Return the policy in force that a choice about ``purpose`` is made under."""
        return self.cookie_policy if purpose.kind == PurposeKind.COOKIE else self.statement


def _purpose_info(
    purpose: Purpose, material_version: int, services: tuple[ServiceInfo, ...]
) -> PurposeInfo:
    version = purpose.current_version
    assert version is not None  # noqa: S101 (filtered by the query)
    return PurposeInfo(
        id=purpose.pk,
        key=purpose.key,
        kind=purpose.kind,
        channel=purpose.channel,
        legal_basis=purpose.legal_basis,
        default_granted=purpose.default_granted,
        always_on=purpose.always_on,
        honours_gpc=purpose.honours_gpc,
        double_opt_in=purpose.double_opt_in,
        version_id=version.pk,
        version=version.version,
        material_version=material_version,
        texts=version.texts or {},
        services=services,
    )


def _build() -> Catalogue:
    now = timezone.now()
    material: dict[int, int] = {}
    for purpose_id, version, is_material in PurposeVersion.objects.values_list(
        "purpose_id", "version", "material"
    ):
        if is_material or version == 1:
            material[purpose_id] = max(material.get(purpose_id, 0), version)
    services: dict[int, list[ServiceInfo]] = {}
    for service in CookieService.objects.prefetch_related("cookies").order_by(
        "category_id", "position", "name"
    ):
        services.setdefault(service.category_id, []).append(
            ServiceInfo(
                name=service.name,
                provider=service.provider,
                privacy_url=service.privacy_url,
                texts=service.texts or {},
                cookies=tuple(
                    CookieInfo(cookie.name, cookie.domain, cookie.first_party, cookie.texts or {})
                    for cookie in service.cookies.all()
                ),
            )
        )
    purposes = tuple(
        _purpose_info(purpose, material.get(purpose.pk, 1), tuple(services.get(purpose.pk, ())))
        for purpose in Purpose.objects.filter(is_active=True, current_version__isnull=False)
        .select_related("current_version")
        .order_by("kind", "position", "key")
    )
    policies: dict[str, PolicyInfo] = {}
    cookie_material = 0
    for policy in PolicyVersion.objects.filter(published_at__lte=now).order_by("version"):
        info = PolicyInfo(policy.pk, policy.version, policy.published_at, policy.material)
        policies[policy.document] = info
        if policy.document == PolicyDocument.COOKIE_POLICY and (
            policy.material or cookie_material == 0
        ):
            cookie_material = policy.version
    catalogue = Catalogue(
        purposes=purposes,
        statement=policies.get(PolicyDocument.PRIVACY_STATEMENT),
        cookie_policy=policies.get(PolicyDocument.COOKIE_POLICY),
        cookie_policy_material_version=cookie_material,
    )
    catalogue.by_key.update({purpose.key: purpose for purpose in purposes})
    catalogue.by_id.update({purpose.id: purpose for purpose in purposes})
    return catalogue


# This process's copy of the snapshot, with the generation it was built for. A change anywhere
# sets a new generation in the shared cache, so a copy is never used after it went stale; reading
# the generation (a few bytes) is much cheaper than reading and unpickling the snapshot.
_local: tuple[str, Catalogue] | None = None
# Within one HTTP request the generation is read once: every later call in the request (a banner
# save asks three times) uses the same snapshot. Outside requests (tasks, commands) every call
# reads it.
_request = threading.local()


def _request_started(**kwargs: Any) -> None:
    _request.active, _request.checked = True, False


def _request_finished(**kwargs: Any) -> None:
    _request.active = _request.checked = False


request_started.connect(_request_started, dispatch_uid="consent.catalogue.request_started")
request_finished.connect(_request_finished, dispatch_uid="consent.catalogue.request_finished")


def catalogue(generation: str | None = None) -> Catalogue:
    """Return the current catalogue snapshot (shared by every process through the cache).

    ``generation`` is the shared generation stamp when the caller has just read it (with other
    keys, in one round trip); otherwise it is read here, at most once per request."""
    global _local
    local = _local
    in_request = getattr(_request, "active", False)
    if generation is None and local is not None and in_request and _request.checked:
        return local[1]
    if generation is None:
        generation = cache.get(GENERATION_KEY)
    if generation is not None and local is not None and local[0] == generation:
        _request.checked = in_request
        return local[1]
    snapshot = cache.get(CACHE_KEY) if generation is not None else None
    if not isinstance(snapshot, Catalogue):
        snapshot = _build()
        # Named by its content: rebuilt unchanged (it expires, so that a policy published for a
        # future date takes effect), it keeps its generation, and the answers cached for it
        # (selectors.consent_current_document) stay valid.
        generation = hashlib.sha256(pickle.dumps(snapshot)).hexdigest()[:32]
        cache.set_many({CACHE_KEY: snapshot, GENERATION_KEY: generation}, CACHE_SECONDS)
    _local = (str(generation), snapshot)
    _request.checked = in_request
    return snapshot


def catalogue_generation() -> str | None:
    """Return the generation stamp of the snapshot this process holds (None if none)."""
    return _local[0] if _local is not None else None


def _forget() -> None:
    global _local
    _local = None
    _request.checked = False
    cache.delete_many([CACHE_KEY, GENERATION_KEY])


def catalogue_invalidate() -> None:
    """Drop the snapshot now (for this transaction's own reads) and again once it commits
    (another process may have cached the old one in between)."""
    _forget()
    transaction.on_commit(_forget)
