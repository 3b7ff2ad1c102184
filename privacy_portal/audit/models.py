"""Audit events and the head of their hash chain."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ActorType(models.TextChoices):
    PERSON = "person", _("Person")
    SYSTEM = "system", _("System")
    API = "api", _("API client")


class AuditEvent(models.Model):
    """One action, chained to the one before it by ``prev_hash``.

    The database refuses UPDATE and DELETE on this table (see the migration); ``seq`` orders the
    chain and ``hash`` covers every field, so ``manage.py verify_audit`` finds any tampering.
    """

    seq = models.PositiveBigIntegerField(_("sequence"), unique=True, editable=False)
    occurred_at = models.DateTimeField(_("occurred at"), db_index=True, editable=False)
    actor_type = models.CharField(_("actor type"), max_length=16, choices=ActorType.choices)
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True, db_index=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64)
    # What the event belongs to, for timelines: "dsr.request:42", "accounts.user:7".
    scope = models.CharField(_("scope"), max_length=80, db_index=True, blank=True)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    prev_hash = models.CharField(_("previous hash"), max_length=64, editable=False)
    hash = models.CharField(_("hash"), max_length=64, unique=True, editable=False)

    class Meta:
        ordering = ("-seq",)
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=("object_type", "object_id"), name="audit_object_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class AuditChainHead(models.Model):
    """A single row holding the chain's last position. Locking it serialises appends."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        verbose_name = _("audit chain head")

    def __str__(self) -> str:
        return f"#{self.seq}"
