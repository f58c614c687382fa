"""ADAPTERS.md, rendered from the adapters themselves (jinja2), so it cannot drift.

``waybill adapters docs`` writes it; a test fails when the committed copy is stale.
jinja2 is imported here only, never on the Lambda's request path.
"""

from __future__ import annotations

from pathlib import Path

from gateway.adapter import SignatureScheme
from gateway.discovery import Registry

TEMPLATE = Path(__file__).resolve().parent / "templates" / "ADAPTERS.md.j2"
SECRET_FORMS = {
    "raw": "the secret's UTF-8 bytes as is",
    "nfkd": "the secret NFKD-normalised, then UTF-8",
    "whsec_base64": "base64-decoded after the `whsec_` prefix",
}


def _algorithm(name: str) -> str:
    return f"HMAC-{name.upper()}" if name in ("sha1", "sha256", "sha512") else name


def describe_scheme(scheme: SignatureScheme) -> str:
    """One paragraph saying exactly what is signed, how, and where it is sent."""
    headers = ", ".join(f"`{h}`" for h in scheme.headers)
    if scheme.kind == "token":
        text = f"A static shared token in {headers}, compared in constant time."
    else:
        how = " ".join(
            part
            for part in (
                scheme.algorithm and _algorithm(scheme.algorithm),
                scheme.encoding and f"({scheme.encoding}",
                scheme.prefix and f"with prefix `{scheme.prefix}`",
            )
            if part
        )
        how += ")" if scheme.encoding else ""
        text = f"{how or scheme.kind} over {scheme.signed_content}, sent in {headers}."
        text += f" Key: {SECRET_FORMS.get(scheme.secret_form, scheme.secret_form)}."
    if scheme.tolerance_seconds is None:
        text += " No timestamp is signed: replays are caught by dedupe, not by a window."
    else:
        text += f" Timestamp tolerance: ±{scheme.tolerance_seconds} s (too old and too new)."
    return f"{text} Rotation: {scheme.rotation}."


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
    adapters = [registry.adapters[key] for key in sorted(registry.adapters)]
    return environment.get_template(TEMPLATE.name).render(
        adapters=adapters, broken=sorted(registry.broken.items())
    )
