"""ADAPTERS.md, rendered from the adapters themselves (jinja2), so it cannot drift.

``waybill adapters docs`` writes it; a test fails when the committed copy is stale.
jinja2 is imported here only, never on the Lambda's request path.
"""

from __future__ import annotations

from pathlib import Path

from gateway.carriers.adapter import Adapter
from gateway.carriers.discovery import Registry
from gateway.carriers.status import ANY, StatusTable, status_of
from gateway.signing.spec import SignatureSpec

TEMPLATE = Path(__file__).resolve().parent / "templates" / "ADAPTERS.md.j2"
CREDENTIALS = {
    "api_key": "an API key",
    "oauth_client": "an OAuth client `client_id:client_secret` (client-credentials token)",
}
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
    if not spec.binds_body:
        within = " within the tolerance" if spec.tolerance_seconds is not None else ""
        text += f" The body is not signed: a captured signature authenticates any body{within}."
    return f"{text} Rotation: {spec.rotation}."


def describe_polling(adapter: Adapter) -> str:
    """One paragraph on the adapter's tracking API: where, how many numbers, which secret."""
    polling = adapter.polling
    if polling is None:
        return ""
    size = polling.batch_size
    numbers = "one tracking number" if size == 1 else f"up to {size} tracking numbers"
    kind = CREDENTIALS.get(polling.credentials, polling.credentials)
    text = f"`{polling.base_url}`, {numbers} per call; secret slot `{adapter.id}.{polling.slot}`"
    text += f" holds {kind}."
    if polling.docs_url:
        text += f" Docs: {polling.docs_url}."
    return f"{text} {polling.confidence}." if polling.confidence else text


def _code(value: str | None) -> str:
    return f"`{value}`" if value else ""


def main_rows(table: StatusTable) -> list[tuple[str, str, str]]:
    """``(native, canonical, detail)`` cells for each main code, sorted."""
    return [
        (_code(code), _code(status.value), _code(table.details.get(code)))
        for code, status in sorted(table.main.items())
    ]


def refinement_rows(table: StatusTable) -> list[tuple[str, str, str, str]]:
    """``(native, second code, canonical, detail)`` cells for each refinement, read back
    through :func:`status_of` where the main code is known (so a kept status shows)."""
    rows = []
    for (main, sub), row in sorted(table.refinements.items()):
        if main == ANY:
            under = sorted(table.only_under or ())
            scope = "any of " + ", ".join(map(_code, under)) if under else "any"
            status = _code(row.status.value) if row.status else f"the {table.columns[0]}'s"
            rows.append((scope, _code(sub), status, _code(row.detail)))
        else:
            found = status_of(table, main, sub)
            rows.append((_code(main), _code(sub), _code(found.status.value), _code(found.detail)))
    return rows


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
    environment.filters["polling"] = describe_polling
    environment.filters["code"] = _code
    environment.filters["main_rows"] = main_rows
    environment.filters["refinement_rows"] = refinement_rows
    adapters = [registry.adapters[key] for key in sorted(registry.adapters)]
    return environment.get_template(TEMPLATE.name).render(
        adapters=adapters, broken=sorted(registry.broken.items())
    )
