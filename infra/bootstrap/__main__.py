"""``pulumi -C infra/bootstrap up`` entry point: the account-level settings (``infra.account``).

As in ``infra/__main__.py``, the repository root replaces this directory on ``sys.path``.
"""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent.parent
sys.path[:] = [str(_ROOT), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

from infra import account  # noqa: E402  (needs the path above)

account.main()
