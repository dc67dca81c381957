"""`python -m core` is the command the CLI contract fixes; the CLI itself lives in `cli/`.

The one place `core` names an entry point: this file is the launcher, not the domain, and the
import-direction test exempts it by name.
"""

import gc

from cli import app

try:
    app(prog_name="python -m core")
finally:
    # The process ends here. Unfrozen, the interpreter's last garbage collections walk every
    # object that Typer, pydantic and SQLAlchemy made at import, only for the OS to free them:
    # about 0.1 s, a fifth of the start-up budget of `current`. The database's connections are
    # closed already (cli.common.database), so nothing is left for a collection to finish.
    gc.freeze()
