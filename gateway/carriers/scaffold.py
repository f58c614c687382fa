"""``waybill adapters new NAME``: a carrier adapter skeleton, rendered from templates.

Writes ``adapters/NAME.py`` (``ADAPTER``, a ``SignatureSpec`` to fill in, ``STATUS_MAP``,
a ``parse`` raising ``ParseError("TODO: ...")``), the fixture trio
``tests/fixtures/NAME/example{,.meta,.expected}.json`` and ``tests/adapters/test_NAME.py``,
which fails until no ``TODO`` is left and every fixture in ``tests/fixtures/NAME/`` parses
to its expected events. That is all a carrier takes: the shared suites, the demo tenant
and the test tenants find it by discovery (:func:`next_steps` says what is left).
Nothing is overwritten. jinja2 is imported here only (a CLI path, never the Lambda's).

Example:
    >>> check_name("acme_post")
    >>> check_name("class")
    Traceback (most recent call last):
    gateway.carriers.scaffold.ScaffoldError: 'class' is a Python keyword
    >>> check_name("x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    gateway.carriers.scaffold.ScaffoldError: 'x' is too short for an adapter name: ...
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates" / "scaffold"
TARGETS = {
    "adapter.py.j2": "adapters/{name}.py",
    "example.json.j2": "tests/fixtures/{name}/example.json",
    "example.meta.json.j2": "tests/fixtures/{name}/example.meta.json",
    "example.expected.json.j2": "tests/fixtures/{name}/example.expected.json",
    "test_adapter.py.j2": "tests/adapters/test_{name}.py",
}
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")
"""An adapter id: a module name, a carrier key in tenant files, a URL path segment."""
MIN_NAME_CHARS = 2
"""A one-letter id says nothing about the carrier (and is easily a typo)."""


def next_steps(name: str) -> str:
    """What the engineer does after scaffolding ``name``, as the CLI prints it.

    >>> next_steps("acme_post").splitlines()[0]
    'next steps for acme_post: you edit adapters/acme_post.py and tests/fixtures/acme_post/ only'
    """
    module, fixtures = f"adapters/{name}.py", f"tests/fixtures/{name}/"
    return "\n".join(
        [
            f"next steps for {name}: you edit {module} and {fixtures} only",
            f"  1. {module}: fill in every TODO: the signature scheme as a SignatureSpec "
            "(gateway/signing/spec.py), STATUS_MAP and parse.",
            f"  2. {fixtures}: replace example.json with the exact bytes the carrier sends, "
            "and its .meta.json (source) and .expected.json (parse + to_canonical, tenant acme); "
            "add one <fixture>.json per case, with an optional .headers.json.",
            "     A body whose events sit in a list gives the carrier a replay history; its "
            '.meta.json may declare "history": {"full_history": true, "retry": '
            '{"delays_seconds": [...], "source": "..."}} (full-history resends, a published '
            "retry schedule).",
            f"  3. pytest tests/adapters/test_{name}.py until it passes (what is left), then "
            f"pytest tests/adapters tests/functional tests/reliability -k {name} "
            f"(the shared suites find {name} by themselves).",
            "  4. waybill adapters docs (regenerates ADAPTERS.md; like tests/adapters/"
            f"test_{name}.py, generated, not edited).",
            "  Nothing else: the demo and test tenants enable every discovered adapter "
            '([carriers."*"]); a production tenant adds [carriers.' + name + "] to its own "
            "tenants/<tenant>.toml when it has a contract.",
        ]
    )


class ScaffoldError(ValueError):
    """The name is unusable or taken, or the root is not a Waybill checkout."""


def check_name(name: str) -> None:
    """Raise :class:`ScaffoldError` unless ``name`` can be an adapter id and module name."""
    if not NAME_PATTERN.fullmatch(name):
        raise ScaffoldError(
            f"{name!r} is not a valid adapter name: lower-case letters, digits and _, "
            "starting with a letter (at most 63 characters)"
        )
    if len(name) < MIN_NAME_CHARS:
        raise ScaffoldError(
            f"{name!r} is too short for an adapter name: at least {MIN_NAME_CHARS} characters, "
            "the carrier's name as a module (e.g. acme_post)"
        )
    if name.endswith("_") or "__" in name:
        raise ScaffoldError(f"{name!r} is not a valid adapter name: no trailing or double _")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ScaffoldError(f"{name!r} is a Python keyword")


def render(name: str) -> dict[str, str]:
    """The text of each file to write, by path relative to the root."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,  # noqa: S701 - Python and JSON sources, not HTML
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    context = {"name": name, "label": name.replace("_", " ").title()}
    return {
        target.format(name=name): environment.get_template(template).render(context)
        for template, target in TARGETS.items()
    }


def scaffold(root: Path, name: str, taken: frozenset[str] = frozenset()) -> list[Path]:
    """Write the skeleton of adapter ``name`` under ``root``; the paths written.

    ``taken`` holds ids already loaded (e.g. from entry points). Refuses invalid or
    taken names and any existing target file; writes nothing in that case.
    """
    check_name(name)
    if not (root / "adapters" / "__init__.py").is_file():
        raise ScaffoldError(f"{root} is not a Waybill checkout (no adapters/__init__.py)")
    if name in taken:
        raise ScaffoldError(f"an adapter named {name!r} is already loaded")
    files = {root / relative: text for relative, text in render(name).items()}
    fixtures = root / "tests" / "fixtures" / name
    existing = [str(p.relative_to(root)) for p in files if p.exists() and p.parent != fixtures]
    if fixtures.exists():
        existing.append(f"tests/fixtures/{name}/")
    if existing:
        raise ScaffoldError(f"{name!r} is taken: {', '.join(sorted(existing))} already exist")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
