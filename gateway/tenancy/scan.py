"""Every tenant file of a directory read at once: the valid tenants, and why each other
file is not one.

What ``waybill serve`` checks before it starts (it refuses to serve with a bad file), and
what ``waybill tenants validate`` and ``tenants list`` report: every bad file, never only
the first. Each problem names the file and the field (:func:`load_tenant_file`).

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "acme.toml").write_text('name = "Acme"\\n[carriers.easypost]\\n')
    >>> _ = (folder / "typo.toml").write_text('name = "T"\\nretention = 30\\n')
    >>> scan = scan_tenants(folder)
    >>> [config.id for config in scan.valid.values()], len(scan.problems)
    (['acme'], 1)
    >>> scan.problems[0].endswith("typo.toml: retention: extra inputs are not permitted")
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.tenancy.tenants import TenantConfig, TenantConfigError, load_tenant_file, tenant_files


@dataclass(frozen=True)
class TenantScan:
    """The valid tenant files (by path, sorted) and one problem per invalid one."""

    valid: dict[Path, TenantConfig]
    problems: list[str]

    @property
    def ok(self) -> bool:
        """True when every file is a valid tenant (none at all is fine)."""
        return not self.problems


def scan_tenants(directory: Path) -> TenantScan:
    """Read every ``*.toml`` of ``directory``; :class:`TenantConfigError` when it is not a
    directory (nothing could be read: not one problem among others)."""
    paths = tenant_files(directory)
    valid: dict[Path, TenantConfig] = {}
    problems: list[str] = []
    for path in paths:
        try:
            valid[path] = load_tenant_file(path)
        except TenantConfigError as exc:
            problems.append(str(exc))
    return TenantScan(valid, problems)
