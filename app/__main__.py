"""Entry point: ``deploycenter`` opens the window; ``deploycenter --unattended ...`` runs headless.

The GUI is imported only on the GUI path, so scripts and CI never load Qt widgets.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

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

        return run_cli([a for a in args if a != "--unattended"])
    from app.gui.launch import run_gui

    return run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
