"""Entry point: ``deploycenter`` opens the window; ``deploycenter --unattended ...`` runs headless.

The GUI is imported only on the GUI path, so scripts and CI never load Qt widgets. An unattended
command run as the program ends the process as soon as it is done: by then its environment is
closed (every write committed and durable, every connection closed) and its output flushed, and
what the interpreter would still do (tear down its modules, collect a heap about to vanish) costs
0.1-0.5 s of every command for nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

# ConfigurationTool spellings that scripts written for it already use.
CONFIGURATION_TOOL_ALIASES = {
    "/upgradeenvironment": ["upgrade", "--to"],
    "/upgradepublishedapplications": ["upgrade", "--current"],
    "/deploypreparedapplications": ["deploy-all"],
}


def translate_aliases(argv: Sequence[str]) -> list[str]:
    translated: list[str] = []
    for arg in argv:
        translated.extend(CONFIGURATION_TOOL_ALIASES.get(arg.casefold(), [arg]))
    return translated


def main(argv: Sequence[str] | None = None) -> int:
    args = translate_aliases(sys.argv[1:] if argv is None else argv)
    if "--version" in args:
        from app import __version__

        print(f"deploycenter {__version__}")
        return 0
    if "--unattended" in args:
        from app.cli.main import run_cli

        code = run_cli([a for a in args if a != "--unattended"])
        # The program itself, not a caller in the same process; a profiler or a coverage tracer
        # writes its findings at exit, so the process then ends the usual way.
        if argv is None and sys.getprofile() is None and sys.gettrace() is None:
            end_now(code)
        return code
    from app.gui.launch import run_gui

    return run_gui(args)


def end_now(code: int) -> NoReturn:
    """End the process with ``code`` once the log and the output are flushed, skipping the teardown."""
    import logging
    import os

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe: nothing more can reach it anyway
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
