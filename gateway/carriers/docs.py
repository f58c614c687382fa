"""ADAPTERS.md, rendered from the adapters themselves (jinja2), so it cannot drift.

``waybill adapters docs`` writes it; a test fails when the committed copy is stale.
jinja2 is imported here only, never on the Lambda's request path.
"""

from __future__ import annotations

from pathlib import Path

from gateway.carriers.discovery import Registry
from gateway.signing.spec import SignatureSpec

TEMPLATE = Path(__file__).resolve().parent / "templates" / "ADAPTERS.md.j2"
SECRET_FORMS = {
    "raw": "the secret's UTF-8 bytes as is",
    "nfkd": "the secret NFKD-normalised, then UTF-8",
    "whsec_base64": "base64-decoded after the `whsec_` prefix",
}


def describe_scheme(spec: SignatureSpec) -> str:
    """One paragraph saying exactly what is signed, how, and where it is sent."""
    if spec.kind == "standard_webhooks":
        text = (
            "Standard Webhooks: `webhook-signature` carries space-separated `v1,<base64 "
            "HMAC-SHA256>` (key: the `whsec_` secret, base64-decoded) or `v1a,<base64 Ed25519>` "
            "(`whpk_` public keys) over `{webhook-id}.{webhook-timestamp}.{body}`; any match wins."
        )
    else:
        where = (
            f"query parameter `{spec.query_param}`"
            if spec.query_param
            else f"header `{spec.header}`"
        )
        if spec.kind == "token":
            shape = f" after `{spec.prefix}`" if spec.prefix else ""
            text = f"A static shared secret in {where}{shape}, compared in constant time."
        else:
            what = (
                f"HMAC-{spec.algorithm.upper()}" if spec.kind == "hmac" else spec.algorithm.upper()
            )
            shape = f"{spec.encoding}" + (f", prefixed `{spec.prefix}`" if spec.prefix else "")
            text = f"{what} ({shape}) of `{spec.signed_content}`, in {where}"
            if spec.signature_list:
                item, kv = spec.signature_list
                text += f" as the `{spec.signature_key}{kv}` entries of a `{item}`-separated list"
            text += "."
            if spec.kind == "hmac":
                text += f" Key: {SECRET_FORMS.get(spec.secret_form, spec.secret_form)}."
    if spec.tolerance_seconds is None:
        text += " No timestamp is signed: replays are caught by dedupe, not by a window."
    else:
        source = (
            f"header `{spec.timestamp_header}`"
            if spec.timestamp_header
            else f"`{spec.timestamp_key}`"
        )
        both = "too old and too new" if spec.reject_future else "too old only"
        text += f" Timestamp from {source}, tolerance ±{spec.tolerance_seconds} s ({both})."
    return f"{text} Rotation: {spec.rotation}."


def render(registry: Registry) -> str:
    """The Markdown text of ADAPTERS.md for ``registry``."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE.parent),
        autoescape=False,  # noqa: S701 - Markdown, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["scheme"] = describe_scheme
    environment.filters["code"] = lambda value: f"`{value}`"
    adapters = [registry.adapters[key] for key in sorted(registry.adapters)]
    return environment.get_template(TEMPLATE.name).render(
        adapters=adapters, broken=sorted(registry.broken.items())
    )
