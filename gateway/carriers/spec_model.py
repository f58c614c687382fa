"""A SignatureSpec as a tenant file writes it: a strict pydantic model derived from the
dataclass's own fields, so the two cannot drift (a field added to the spec is accepted
here, unless :data:`NOT_IN_TENANT_FILES` says why not).

Example:
    >>> GenericSignature.model_validate({"kind": "hmac", "header": "X-Sig"}).spec().binds_body
    True
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from dataclasses import MISSING
from types import UnionType
from typing import Annotated, Any, ClassVar, Self, Union, get_args, get_origin, get_type_hints

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetPydanticSchema,
    StrictBool,
    StrictInt,
    StrictStr,
    create_model,
    model_validator,
)
from pydantic_core import core_schema

from gateway.signing.spec import SignatureSpec

NOT_IN_TENANT_FILES: dict[str, str] = {
    "rotation": "free text for ADAPTERS.md; a generic partner rotates like every key set "
    "(current + unexpired previous secrets) and is not documented there",
}
"""SignatureSpec fields a tenant file may not set, and why (the default is kept)."""
CONSTRAINTS: dict[str, dict[str, Any]] = {"tolerance_seconds": {"ge": 1, "le": 86_400}}
_STRICT: dict[Any, Any] = {str: StrictStr, int: StrictInt, bool: StrictBool}


class TenantSpec(BaseModel):
    """Base of a model derived from a spec dataclass: checked by building the spec."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    spec_type: ClassVar[type[SignatureSpec]] = SignatureSpec

    @model_validator(mode="after")
    def _executable(self) -> Self:
        self.spec()  # the spec's own rules: known placeholders, one credential source, …
        return self

    def spec(self) -> SignatureSpec:
        """The executable spec."""
        return self.spec_type(**dict(self))


def _strict(annotation: Any) -> Any:
    """``annotation`` with each ``str``, ``int`` and ``bool`` strict, also inside unions and
    tuples: TOML types are exact, so ``"300"`` is not a number nor ``"yes"`` a boolean."""
    args = tuple(_strict(arg) for arg in get_args(annotation))
    if get_origin(annotation) in (Union, UnionType):
        return functools.reduce(operator.or_, args)
    if get_origin(annotation) is tuple:
        return tuple[args]  # type: ignore[valid-type]
    return _STRICT.get(annotation, annotation)  # Literal values and None are exact already


def tenant_model(spec_type: type[SignatureSpec]) -> type[TenantSpec]:
    """A pydantic model of ``spec_type``'s fields (less ``NOT_IN_TENANT_FILES``), strict.

    >>> tenant_model(SignatureSpec).model_validate({"kind": "token", "header": "x"}).spec()
    SignatureSpec(kind='token', header='x', query_param=None, ...)
    """
    hints = get_type_hints(spec_type)
    fields: dict[str, Any] = {}
    for spec_field in dataclasses.fields(spec_type):
        if spec_field.name in NOT_IN_TENANT_FILES:
            continue
        default: Any = ... if spec_field.default is MISSING else spec_field.default
        limits = CONSTRAINTS.get(spec_field.name, {})
        fields[spec_field.name] = (_strict(hints[spec_field.name]), Field(default, **limits))
    name = "Generic" + spec_type.__name__.removesuffix("Spec")  # GenericSignature
    model = create_model(name, __base__=TenantSpec, __module__=__name__, **fields)
    model.spec_type = spec_type
    return model


GenericSignature = tenant_model(SignatureSpec)
"""The fields of a SignatureSpec, as a TOML table; derived, so they cannot drift."""


def _signature_schema(_source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
    """Validate with GenericSignature (errors name the field), keep the SignatureSpec."""
    return core_schema.no_info_after_validator_function(
        lambda fields: fields.spec(),
        handler(GenericSignature),
        serialization=core_schema.plain_serializer_function_ser_schema(
            lambda spec: {name: getattr(spec, name) for name in GenericSignature.model_fields}
        ),
    )


TenantSignature = Annotated[SignatureSpec, GetPydanticSchema(_signature_schema)]
