"""``pulumi up`` entry point (``Pulumi.yaml``: ``main: infra/``): wires the stack from config.

Pulumi's Python host runs this directory with ``runpy.run_path``, which puts ``infra/``
itself first on ``sys.path`` and not the repository root: ``infra`` would not import as a
package (``gateway`` only through the editable install), and ``infra/secrets.py`` would
shadow the standard library's ``secrets``. So the root replaces that entry first.
"""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

from infra import program  # noqa: E402  (needs the path above)

program.main()
