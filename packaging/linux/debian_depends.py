"""Print the Debian packages a bundle's programs and libraries link to, for the .deb's Depends.

    python3 packaging/linux/debian_depends.py BUNDLE_DIR

Every ELF file in the bundle is read for the libraries it names (NEEDED); those the bundle does not
carry itself are resolved as the loader would at run time and mapped to their package with
``dpkg -S``. A library that cannot be found, or that no package owns, is an error: the .deb would
install without it and the program would fail to start.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
LDD_LINE = re.compile(r"^\s*(\S+) => (not found|(\S+) \(0x[0-9a-f]+\))")


def elf_files(bundle: Path) -> list[Path]:
    found = []
    for path in sorted(bundle.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) == ELF_MAGIC:
                    found.append(path)
    return found


def needed_names(elf: Path) -> set[str]:
    out = subprocess.run(["objdump", "-p", str(elf)], capture_output=True, text=True, check=True).stdout
    return {line.split()[1] for line in out.splitlines() if line.strip().startswith("NEEDED")}


def resolved_libraries(elf: Path, bundle: Path) -> dict[str, str | None]:
    """Name -> path (None when not found), as ldd resolves them with the bundle's own folder first."""
    env = dict(os.environ, LD_LIBRARY_PATH=str(bundle / "_internal"))
    result = subprocess.run(["ldd", str(elf)], capture_output=True, text=True, env=env, check=False)
    libraries: dict[str, str | None] = {}
    for line in result.stdout.splitlines():
        match = LDD_LINE.match(line)
        if match:
            libraries[match.group(1)] = match.group(3)
    return libraries


def _spellings(path: str) -> set[str]:
    """The names dpkg may have recorded for a library: Debian 12 merges /lib into /usr/lib."""
    names = {path, os.path.realpath(path)}
    for name in list(names):
        names.add(name[len("/usr") :] if name.startswith("/usr/") else "/usr" + name)
    return names


def owning_packages(paths: set[str]) -> dict[str, str]:
    """Path -> the Debian package that installed it (one ``dpkg -S`` call for all of them)."""
    spellings = {spelling: path for path in paths for spelling in _spellings(path)}
    result = subprocess.run(["dpkg", "-S", *sorted(spellings)], capture_output=True, text=True, check=False)
    owners: dict[str, str] = {}
    for line in result.stdout.splitlines():
        packages, _, spelling = line.partition(": ")
        if spelling in spellings and not packages.startswith("diversion "):
            first = packages.split(",")[0].strip()
            owners[spellings[spelling]] = first.split(":")[0]  # without the ":amd64" qualifier
    return owners


def system_dependencies(bundle: Path) -> tuple[set[str], list[str]]:
    """The packages linked to, and the problems (missing or unowned libraries) found."""
    bundle = bundle.resolve()
    wanted: dict[str, set[str]] = {}
    problems: list[str] = []
    for elf in elf_files(bundle):
        needed = needed_names(elf)
        for name, path in resolved_libraries(elf, bundle).items():
            if name not in needed:
                continue
            if path is None:
                problems.append(f"{elf.relative_to(bundle)} needs {name}, which is not installed")
            elif not Path(path).resolve().is_relative_to(bundle):
                wanted.setdefault(path, set()).add(name)
    owners = owning_packages(set(wanted))
    for path in sorted(set(wanted) - set(owners)):
        problems.append(f"{path} is not from a Debian package")
    return set(owners.values()), problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    packages, problems = system_dependencies(Path(argv[0]))
    for problem in problems:
        print(f"debian_depends: {problem}", file=sys.stderr)
    if problems:
        return 1
    print("\n".join(sorted(packages)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
