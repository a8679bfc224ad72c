"""What runs on a remote front-end: POSIX ``sh`` scripts, the tar streams they read, and their output.

Every script runs in the connection's long-lived ``/bin/sh`` (``shell.RemoteShell``), started
through the remote account's login shell, which only has to pass it on (it must be a POSIX-style
shell: sh, bash, dash, ksh or zsh). Every name in a script is quoted with ``shlex.quote``; module
names and release ids are checked before they get there, and the front-end's own path passes
only as ``$1``.

A script spends its time in shell builtins (``[``, ``case``, ``read``, ``echo``, globs) and calls
each external program once per batch, with every module's paths as arguments: a program started
per module would cost a millisecond each, more than the rest of the work. What a script reports
comes back as one line per record, ``<code> <module> [<field>...]``, then, where a script dumps
files, a line ``=stat`` with ``stat`` output and a line ``=tar`` followed by a tar archive of
the files (``config.json``, ``.release.json``), which Python reads with ``tarfile``.

Remote programs used: ``sh``, ``tar`` (with ``-T``), ``sync``, ``stat`` (GNU ``-c`` or BSD ``-f``),
``touch``, ``rm``, ``rmdir``, ``mv``, ``find`` (with ``-mindepth``/``-maxdepth``), ``head`` and
``sha256sum`` (or ``shasum -a 256``, or ``openssl``); ``perl``, where it is there, renames a whole
batch in one process.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterable, Iterator, Sequence

# The layout's names (rules.md#layout), spelled as the local deployer spells them.
RELEASES = "releases"
CURRENT = "CURRENT"
CONFIG = "config.json"
RELEASE_INFO = ".release.json"
STAGING_PREFIX = ".staging-"

# Scripts go through the long-lived shell's stdin, so their size is free; what limits a batch is
# the argument list of the one tar, stat or touch per script (Linux: 2 MiB in all).
MAX_SCRIPT_BYTES = 400_000
MAX_MODULES_PER_SCRIPT = 2000

_PRELUDE = r"""
export LC_ALL=C
cd -- "$1" 2>/dev/null || {
  if [ ! -e "$1" ]; then echo "X missing"; elif [ ! -d "$1" ]; then echo "X notdir"; else echo "X noaccess"; fi
  exit 0
}
"""

_SYNC = "{ sync -f . 2>/dev/null || sync; }"

# infos FOLDER...: every releases/<id>/.release.json under the releases folders given. find
# builds the argument lists, so that any number of releases fits (a glob would not).
_INFOS = r"""
infos() { [ $# -gt 0 ] || return 0; find "$@" -mindepth 2 -maxdepth 2 -name .release.json -type f 2>/dev/null; }
if stat -c %.9Y . >/dev/null 2>&1; then
  infostamps() { [ $# -gt 0 ] || return 0
    find "$@" -mindepth 2 -maxdepth 2 -name .release.json -type f -exec stat -c '%.9Y %n' {} + 2>/dev/null; }
elif stat -f %Fm . >/dev/null 2>&1; then
  infostamps() { [ $# -gt 0 ] || return 0
    find "$@" -mindepth 2 -maxdepth 2 -name .release.json -type f -exec stat -f '%Fm %N' {} + 2>/dev/null; }
else
  infostamps() { [ $# -gt 0 ] || return 0
    find "$@" -mindepth 2 -maxdepth 2 -name .release.json -type f -exec stat -c '%Y %n' {} + 2>/dev/null; }
fi
"""

# insp MODULE MODE TARGET: check one module folder (MODE s: strictly, as stage does, clearing
# Deploy Center's leftovers; r: read only) and report what is there.
_INSPECT = r"""
q() { case $1 in *[!\ -~]*) echo '(a name with unusual characters)';; *) echo "$1";; esac; }
insp() {
  m=$1
  if [ -L "$m" ]; then echo "F $m link"; return; fi
  if [ ! -e "$m" ]; then echo "A $m m"; return; fi
  if [ ! -d "$m" ]; then echo "F $m file"; return; fi
  for e in "$m"/.[!.]* "$m"/..?* "$m"/*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    n=${e#"$m"/}
    case $n in
      .CURRENT.tmp-*|.config.json.tmp-*)
        if [ -f "$e" ]; then [ "$2" = s ] && rm -f -- "$e"; continue; fi ;;
      CURRENT|config.json)
        if [ -L "$e" ] || [ ! -f "$e" ]; then echo "F $m notreg $n"; return; fi
        continue ;;
      releases) continue ;;
    esac
    if [ "$2" = s ]; then echo "F $m foreign $(q "$n")"; return; fi
  done
  r=$m/releases
  if [ -L "$r" ]; then echo "F $m rlink"; return; fi
  if [ -e "$r" ] && [ ! -d "$r" ]; then echo "F $m rfile"; return; fi
  c=
  if [ -f "$m/CURRENT" ]; then IFS= read -r c < "$m/CURRENT" 2>/dev/null || :; fi
  echo "K $m $c"
  if [ ! -d "$r" ]; then echo "A $m r"; return; fi
  for e in "$r"/.staging-*; do
    if [ "$2" = s ] && [ -d "$e" ] && [ ! -L "$e" ]; then rm -rf -- "$e"; fi
  done
  for e in "$r"/*; do
    [ -d "$e" ] && [ ! -L "$e" ] && [ -f "$e/.release.json" ] && [ ! -L "$e/.release.json" ] || continue
    n=${e#"$r"/}
    case $n in *[!A-Za-z0-9._+@,=-]*) continue;; esac
    echo "R $m $n"
  done
  if [ -n "$3" ] && { [ -e "$r/$3" ] || [ -L "$r/$3" ]; }; then echo "S $m"; fi
}
"""


# moves OP FROM TO ...: renames (and removals) in one process. OP "g" starts a module's group
# (FROM is its name); after a failure the rest of the group is skipped and "E <module> <path>
# <problem>" printed. "n" renames where TO does not exist, "r" renames over TO (a file), "d"
# removes TO, "e" only checks that TO is a regular file (a release's .release.json, before
# CURRENT names it). perl does them all in one process where it is there (Debian and most Linux
# have it); otherwise mv and rm do them, one process each.
_MOVES = r"""
if command -v perl >/dev/null 2>&1; then
moves() { perl -e '
my ($g, $skip) = ("", 0);
while (@ARGV) {
  my ($op, $from, $to) = splice(@ARGV, 0, 3);
  if ($op eq "g") { ($g, $skip) = ($from, 0); next }
  next if $skip;
  my $ok;
  if ($op eq "d") { $ok = unlink($to) || $!{ENOENT} }
  elsif ($op eq "e") { $ok = -f $to; $! = 2 unless $ok }
  elsif ($op eq "n" && (-e $to || -l $to)) { $ok = 0; $! = 17 }
  else { $ok = rename($from, $to) }
  unless ($ok) { print "E $g $to $!\n"; $skip = 1 }
}' -- "$@"; }
else
moves() {
  g=; skip=
  while [ $# -ge 3 ]; do
    op=$1 from=$2 to=$3; shift 3
    if [ "$op" = g ]; then g=$from skip=; continue; fi
    [ -z "$skip" ] || continue
    ok=1
    case $op in
      d) if [ -e "$to" ] || [ -L "$to" ]; then rm -f -- "$to" 2>/dev/null || ok=; fi ;;
      e) [ -f "$to" ] || ok= ;;
      n) if [ -e "$to" ] || [ -L "$to" ]; then ok=; else mv -- "$from" "$to" 2>/dev/null || ok=; fi ;;
      r) if [ -d "$to" ] && [ ! -L "$to" ]; then ok=; else mv -f -- "$from" "$to" 2>/dev/null || ok=; fi ;;
    esac
    [ -n "$ok" ] || { echo "E $g $to cannot be renamed or replaced"; skip=1; }
  done
}
fi
"""

Move = tuple[str, str, str]  # (op, from, to), as ``moves`` takes them


def moves_script(moves: Sequence[Move], after: Sequence[str] = ()) -> str:
    """Do ``moves`` in one go, then the shell lines ``after``."""
    words = _words(word for move in moves for word in move)
    return "\n".join([_PRELUDE, _MOVES, f"moves {words}" if moves else ":", *after, "exit 0"])


def words(values: Iterable[str]) -> str:
    """Shell words for ``values``, each quoted."""
    return _words(values)


def _words(values: Iterable[str]) -> str:
    return " ".join(shlex.quote(value) for value in values)


def inspect_script(modules: Sequence[str], targets: Sequence[str] | None, stage: bool, dump: str) -> str:
    """Check module folders and report CURRENT, own releases and (``dump``) files.

    ``dump`` says what else to report: ``c`` config.json; ``i`` every .release.json; ``k`` only
    the live release's and the target's; ``s`` (and ``i``) the modification time of every
    .release.json, in the stat part.
    """
    mode = "s" if stage else "r"
    pairs = [f"{module}:{target}" for module, target in zip(modules, targets or [""] * len(modules), strict=True)]
    lines = [_PRELUDE, _INSPECT, f"ps={shlex.quote(' '.join(pairs))}", f"ms={shlex.quote(' '.join(modules))}"]
    lines.append(f'for p in $ps; do insp "${{p%%:*}}" {mode} "${{p#*:}}"; done')
    folders = '$(for m in $ms; do [ -d "$m/releases" ] && echo "$m/releases"; done)'
    if "i" in dump or "s" in dump:
        lines.append(_INFOS)
        lines.append("echo =stat")
        lines.append(f"infostamps {folders}")
    names = []  # shell that prints the paths to dump for module $m (target $t); builtins only
    if "c" in dump:
        names.append('echo "$m/config.json"')
    if "k" in dump:
        names.append('[ -z "$t" ] || echo "$m/releases/$t/.release.json"')
        names.append('c=; if [ -f "$m/CURRENT" ]; then IFS= read -r c < "$m/CURRENT" 2>/dev/null || :; fi')
        names.append('case $c in ""|"$t"|*[!A-Za-z0-9._+@,=-]*) ;; *) echo "$m/releases/$c/.release.json";; esac')
    if names or "i" in dump:
        lines.append("echo =tar")
        body = "; ".join([*names, ":"])
        listing = f"for p in $ps; do m=${{p%%:*}}; t=${{p#*:}}; {body}; done"
        if "i" in dump:
            listing = f"{{ {listing}; infos {folders}; }}"
        lines.append(f"{listing} | tar -cf - -T - 2>/dev/null")
    lines.append("exit 0")
    return "\n".join(lines)


def extract_script() -> str:
    """Unpack the tar stream on stdin under the root, then make it durable."""
    return "\n".join([_PRELUDE, f"tar -xof - && {_SYNC}"])


def folders_script(modules: Sequence[str]) -> str:
    """``F <module> nofolder`` for each module without a folder of its own."""
    return "\n".join(
        [
            _PRELUDE,
            f"for m in {_words(modules)}; do",
            '  if [ -L "$m" ] || [ ! -d "$m" ]; then echo "F $m nofolder"; fi',
            "done",
        ]
    )


def stage_script(moves: Sequence[Move], after: Sequence[str]) -> str:
    """Unpack the tar stream on stdin under the root and make it durable, then do ``moves`` and
    the shell lines ``after``. A failed ``tar`` stops it before anything is renamed (``X untar``,
    tar's words on stderr), as does a failed ``sync`` (``X sync``)."""
    return "\n".join(
        [
            _PRELUDE,
            _MOVES,
            "tar -xof - || { s=$?; echo 'X untar'; exit $s; }",
            f"{_SYNC} || {{ echo 'X sync'; exit 0; }}",
            f"moves {_words(word for move in moves for word in move)}" if moves else ":",
            *after,
            "exit 0",
        ]
    )


def finish_stage_lines(stamp: str, infos: Sequence[str]) -> list[str]:
    """After the renames: stamp the deploy order, and make it all durable."""
    lines = []
    if infos:
        lines.append(f"touch -c -d {shlex.quote(stamp)} -- {_words(infos)}")
    lines.append(f"{_SYNC} || echo 'X sync'")
    return lines


def remove_paths_script(files: Sequence[str], trees: Sequence[str], folders: Sequence[str]) -> str:
    """Best effort: delete files, whole staging trees, then folders that became empty."""
    lines = [_PRELUDE]
    if files:
        lines.append(f"rm -f -- {_words(files)}")
    if trees:
        lines.append(f"rm -rf -- {_words(trees)}")
    if folders:
        lines.append(f"rmdir -- {_words(folders)} 2>/dev/null")
    lines.append("exit 0")
    return "\n".join(lines)


def sync_script() -> str:
    return f"{_PRELUDE}\n{_SYNC}"


REQUIRED_TOOLS = ("tar", "sync", "stat", "touch", "find", "rm", "rmdir", "mv", "head")


def check_script() -> str:
    """``X readonly`` or ``X lacks <tools>``, else ``O``."""
    return "\n".join(
        [
            _PRELUDE,
            'if [ ! -w . ]; then echo "X readonly"; exit 0; fi',
            "lacks=",
            f'for t in {" ".join(REQUIRED_TOOLS)}; do command -v $t >/dev/null 2>&1 || lacks="$lacks $t"; done',
            (
                "command -v sha256sum >/dev/null 2>&1 || command -v shasum >/dev/null 2>&1 ||"
                ' command -v openssl >/dev/null 2>&1 || lacks="$lacks sha256sum"'
            ),
            'if [ -n "$lacks" ]; then echo "X lacks$lacks"; else echo "O"; fi',
        ]
    )


def current_script(modules: Sequence[str]) -> str:
    """Each module's CURRENT line: ``K <module> <content>``."""
    return "\n".join(
        [
            _PRELUDE,
            f"for m in {_words(modules)}; do",
            "  c=",
            '  if [ -f "$m/CURRENT" ]; then IFS= read -r c < "$m/CURRENT" 2>/dev/null || :; fi',
            '  echo "K $m $c"',
            "done",
        ]
    )


def leftovers_script(modules: Sequence[str], remove: bool) -> str:
    """Work files an interrupted call left in module folders: ``L <module> <path in the module folder>``,
    or, with ``remove``, deleted and reported ``D`` (gone) or ``E`` (still there).

    Only regular files named exactly as a temp ``CURRENT`` or ``config.json`` is named, in a real
    module folder, and real folders named exactly as a staging folder is, in its real ``releases``
    folder (``layout.is_leftover_path`` says the same in Python). Such names hold no space or
    pattern character, so the one ``rm`` of each kind takes them as plain words.
    """
    body = r"""
H='[0-9a-f]'; H4=$H$H$H$H
T=".CURRENT.tmp-$H4$H4$H4"; C=".config.json.tmp-$H4$H4$H4"
files=; trees=; found=
lo() {
  m=$1
  [ -d "$m" ] && [ ! -L "$m" ] || return 0
  for e in "$m"/.CURRENT.tmp-* "$m"/.config.json.tmp-*; do
    [ -f "$e" ] && [ ! -L "$e" ] || continue
    n=${e#"$m"/}
    case $n in $T|$C) files="$files $e"; found="$found $m:$n" ;; esac
  done
  r=$m/releases
  [ -d "$r" ] && [ ! -L "$r" ] || return 0
  for e in "$r"/.staging-?*-[0-9]*-$H4$H4; do
    [ -d "$e" ] && [ ! -L "$e" ] || continue
    n=${e#"$r"/}
    case $n in *[!A-Za-z0-9._+@,=-]*) continue ;; esac
    p=${n%-*}; p=${p##*-}
    case $p in ''|*[!0-9]*) continue ;; esac
    trees="$trees $e"; found="$found $m:releases/$n"
  done
}
"""
    report = "L"
    lines = [_PRELUDE, body, f'for m in {_words(modules)}; do lo "$m"; done']
    if remove:
        lines += ['[ -z "$files" ] || rm -f -- $files 2>/dev/null', '[ -z "$trees" ] || rm -rf -- $trees 2>/dev/null']
        report = '$(if [ -e "${f%%:*}/${f#*:}" ] || [ -L "${f%%:*}/${f#*:}" ]; then echo E; else echo D; fi)'
    lines += [f'for f in $found; do echo "{report} ${{f%%:*}} ${{f#*:}}"; done', "exit 0"]
    return "\n".join(lines)


def sizes_script(releases: Sequence[str]) -> str:
    """The bytes of the files under each ``<module>/releases/<id>``: ``Z <path> <bytes>``.

    ``wc -c`` reads the sizes from the files' metadata; ``find`` builds its argument lists.
    """
    return "\n".join(
        [
            _PRELUDE,
            f"for r in {_words(releases)}; do",
            '  n=$(find "$r" -type f -exec wc -c {} + 2>/dev/null | awk \'$2 != "total" {s += $1} END {print s + 0}\')',
            '  echo "Z $r $n"',
            "done",
        ]
    )


def remove_modules_script(modules: Sequence[str], tag: str) -> str:
    """Delete Deploy Center's own entries of each module; foreign entries and their folders stay.

    ``R <module> <problem>`` reports a module whose files could not all be removed.
    """
    body = r"""
rmown() {
  m=$1
  [ -d "$m" ] && [ ! -L "$m" ] || return 0
  for f in "$m/CURRENT" "$m/config.json"; do
    if [ -f "$f" ] && [ ! -L "$f" ]; then rm -f -- "$f" || echo "R $m $f"; fi
  done
  { sync -f "$m" 2>/dev/null || sync; }
  for e in "$m"/.CURRENT.tmp-* "$m"/.config.json.tmp-*; do
    if [ -f "$e" ]; then rm -f -- "$e"; fi
  done
  r=$m/releases
  if [ -d "$r" ] && [ ! -L "$r" ]; then
    for e in "$r"/.staging-*; do if [ -d "$e" ] && [ ! -L "$e" ]; then rm -rf -- "$e"; fi; done
    for e in "$r"/*; do
      [ -d "$e" ] && [ ! -L "$e" ] && [ -f "$e/.release.json" ] || continue
      n=${e#"$r"/}
      d="$r/.staging-$n-$2"
      mv -- "$e" "$d" && rm -rf -- "$d" || echo "R $m $e"
    done
    rmdir -- "$r" 2>/dev/null
  fi
  rmdir -- "$m" 2>/dev/null
  return 0
}
"""
    lines = [_PRELUDE, body, f'for m in {_words(modules)}; do rmown "$m" {shlex.quote(tag)}; done', "exit 0"]
    return "\n".join(lines)


def hash_script(releases: Sequence[str]) -> str:
    """sha256 of every file under each release folder (``<module>/releases/<id>``), computed there.

    Output: hasher lines (``<hex>  <path>``), then ``=other`` and the paths of links and special
    files, then ``=tar`` and the releases' ``.release.json``.
    """
    folders = _words(releases)
    infos = _words(f"{release}/{RELEASE_INFO}" for release in releases)
    return "\n".join(
        [
            _PRELUDE,
            "if command -v sha256sum >/dev/null 2>&1; then h=sha256sum",
            "elif command -v shasum >/dev/null 2>&1; then h='shasum -a 256'",
            "else h='openssl dgst -sha256 -r'; fi",
            f"find {folders} -type f -exec $h {{}} + 2>/dev/null",
            "echo =other",
            f"find {folders} ! -type f ! -type d -print 2>/dev/null",
            "echo =tar",
            f"tar -cf - {infos} 2>/dev/null",
            "exit 0",
        ]
    )


def iso_stamp(nanoseconds: int) -> str:
    """A UTC time for ``touch -d``, to the nanosecond."""
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


def chunks(count: int, sizes: Iterator[int]) -> Iterator[range]:
    """Split ``count`` items into ranges whose script text (``sizes``, per item) stays small."""
    start, used = 0, 0
    for index, size in zip(range(count), sizes, strict=True):
        if index > start and (used + size > MAX_SCRIPT_BYTES or index - start >= MAX_MODULES_PER_SCRIPT):
            yield range(start, index)
            start, used = index, 0
        used += size
    if start < count:
        yield range(start, count)
