"""`python -m core` is the command the CLI contract fixes; the CLI itself lives in `cli/`.

The one place `core` names an entry point: this file is the launcher, not the domain, and the
import-direction test exempts it by name.
"""

from cli import app

app(prog_name="python -m core")
