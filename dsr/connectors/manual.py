"""Systems without an API as data stores: every action is a step for staff.

The payment provider's dashboard, the parcel carrier's customer service, Google Analytics'
user deletion: the portal cannot reach them, so a request creates a task with instructions,
assigned to a staff group. The request waits until someone completes the step in the admin
(or the dashboard) with a note and, where useful, evidence; an export step takes the files
obtained from the system, which go into the person's package. Overdue steps are reminded.

Configuration::

    {
      "actions": ["export", "erase"],
      "assigned_group": "Compliance officer",
      "instructions": {
        "export": "In the PSP dashboard, search the customer by e-mail, export …",
        "erase": "In the PSP dashboard, delete the customer profile and stored cards …"
      }
    }

``instructions`` may also say what lifting a restriction takes (``lift_restriction``); without
it, the step asks staff to undo what the restriction's step said.

Instructions are stored with the task and shown to staff: write what to do, never a person's
data (staff see whom the request is about beside the instructions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.contrib.auth.models import Group
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from .base import (
    ConfigurationError,
    Connector,
    HealthResult,
    Pending,
    PlannedErasure,
    Subject,
    connector_config,
)

ACTIONS = ("export", "erase", "restrict", "rectify", "notify")


class ManualConnector(Connector):
    """A system that staff act in by hand."""

    kind: ClassVar[str] = "manual"
    supports: ClassVar[frozenset[str]] = frozenset(ACTIONS)

    @classmethod
    def validate_config(cls, config: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        config = connector_config(config)
        unknown = set(config) - {"actions", "assigned_group", "instructions", "purpose_keys"}
        if unknown:
            raise ConfigurationError(
                gettext_noop("Unknown configuration keys: %(keys)s."),
                keys=", ".join(sorted(unknown)),
            )
        actions = config.get("actions", list(ACTIONS))
        if not isinstance(actions, list) or not actions or not set(actions) <= set(ACTIONS):
            raise ConfigurationError(
                gettext_noop("actions must list some of: %(actions)s."), actions=", ".join(ACTIONS)
            )
        instructions = config.get("instructions")
        if not isinstance(instructions, Mapping):
            raise ConfigurationError(
                gettext_noop("instructions must say, for each action, what staff do.")
            )
        for action in actions:
            text = instructions.get(action)
            if not isinstance(text, str) or len(text.strip()) < 10:
                raise ConfigurationError(
                    gettext_noop(
                        "instructions.%(action)s: say what staff must do for this action."
                    ),
                    action=action,
                )
        group = config.get("assigned_group")
        if not isinstance(group, str) or not Group.objects.filter(name=group).exists():
            raise ConfigurationError(
                gettext_noop("assigned_group must be the name of an existing staff group.")
            )
        if not Group.objects.filter(
            name=group,
            permissions__content_type__app_label="dsr",
            permissions__codename="change_manualstep",
        ).exists():
            # Its members could see the steps but never complete them.
            raise ConfigurationError(
                gettext_noop(
                    "The group %(group)s may not complete manual steps: give it the "
                    "permission to change manual steps, or choose another group."
                ),
                group=group,
            )

    def _step(self, action: str) -> Pending:
        instructions = self.config.get("instructions") or {}
        return Pending("manual", str(instructions.get(action, "")))

    def health_check(self) -> HealthResult:
        try:
            self.validate_config(self.config, self.secrets)
        except ConfigurationError as error:
            return HealthResult(False, str(error))
        return HealthResult(
            True,
            _("Nothing to connect to: staff of the group %(group)s do the steps.")
            % {"group": self.config.get("assigned_group")},
        )

    def export(self, subject: Subject, sink: Any) -> Pending:
        step = self._step("export")
        if not self.portability:
            return step
        return Pending(
            "manual",
            _(
                "This copy is for a portability request: attach only what the person gave or "
                "their use of the system recorded, in a machine-readable file (CSV or JSON), "
                "not what the system derived about them or keeps for itself. %(instructions)s"
            )
            % {"instructions": step.instructions},
        )

    def erase(self, subject: Subject) -> Pending:
        return self._step("erase")

    def restrict(self, subject: Subject, *, lift: bool = False) -> Pending:
        if not lift:
            return self._step("restrict")
        instructions = self.config.get("instructions") or {}
        # Optional: ``instructions.lift_restriction``; else undo the restriction's step.
        text = instructions.get("lift_restriction") or _(
            "Lift the restriction of this person's data in this system (undo what the "
            "restriction's step asked: %(restrict)s), then complete this step with a note."
        ) % {"restrict": instructions.get("restrict", "")}
        return Pending("manual", str(text))

    def rectify(self, subject: Subject, changes: Mapping[str, str]) -> Pending:
        return self._step("rectify")

    def notify(
        self,
        subject: Subject,
        *,
        request_type: str,
        changes: Mapping[str, str] | None = None,
    ) -> Pending:
        # The step's page shows staff the correction to pass on (the request's details).
        return self._step("notify")

    def erasure_plan(self) -> list[PlannedErasure]:
        if "erase" not in self.config.get("actions", ACTIONS):
            return []
        return [PlannedErasure(entity=self.store_key, action="manual")]
