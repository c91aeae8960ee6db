"""What both kinds share: camelCase wire names, Kubernetes conditions, quantities, references."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# A Kubernetes resource quantity ("500m", "2", "4Gi"), as the API server's own pattern has it.
QUANTITY_PATTERN: Final = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?"
    r"(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
# scheme://rest: which schemes the operator can read is for it to judge (and say why).
URI_PATTERN: Final = r"^[a-z][a-z0-9+.-]*://.+$"
DNS_LABEL_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

Quantity = Annotated[str, Field(pattern=QUANTITY_PATTERN, max_length=64)]


class WireModel(BaseModel):
    """A part of a custom resource: camelCase on the wire, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=False,
    )

    def wire(self) -> dict[str, Any]:
        """The JSON-ready dict the API server stores (aliases, no unset optional fields)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(WireModel):
    """One condition in the Kubernetes convention (metav1.Condition)."""

    type: str = Field(description="Condition type, in CamelCase (for example `Succeeded`).")
    status: ConditionStatus = Field(description="`True`, `False` or `Unknown`.")
    reason: str = Field(description="Why, as one CamelCase word a program can match on.")
    message: str = Field(default="", description="Why, for people: what happened and what to do.")
    last_transition_time: datetime = Field(
        description="When the condition last changed status (RFC 3339)."
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The `metadata.generation` the condition was set for."
    )


def next_condition(
    previous: Sequence[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    *,
    now: datetime,
    generation: int | None,
) -> Condition:
    """The condition `type_` now; its lastTransitionTime moves only when its status does."""
    old = next((cond for cond in previous if cond.type == type_), None)
    since = old.last_transition_time if old is not None and old.status == status else now
    return Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    )


class SecretReference(WireModel):
    """A Secret in the resource's own namespace."""

    name: str = Field(
        min_length=1, max_length=253, description="Name of the Secret, in the same namespace."
    )


CONDITIONS_DESCRIPTION: Final = "Current state in the Kubernetes convention; one entry per type."


class PrinterColumn(WireModel):
    """One `additionalPrinterColumns` entry of a CRD version."""

    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0


class CustomResourceKind(WireModel):
    """Everything a CRD says about a kind beyond its spec and status schemas."""

    kind: str
    plural: str
    short_names: list[str]
    description: str
    printer_columns: list[PrinterColumn]
    root_validations: list[dict[str, str]] = Field(default_factory=list)
    model_config = ConfigDict(arbitrary_types_allowed=True)
