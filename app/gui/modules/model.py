"""The Modules table: every live module, its compilation, what is deployed, and its state.

Each row also carries what the engine's Deploy All plan does with the module (``PlanMark``):
Deploy selected, Deploy again and the Upgrades counts read that, never a rule of their own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon

from app.engine.read.views import ModuleView
from app.engine.vocabulary import ItemStatus, ModuleState, SkipReason
from app.gui.formatting import HELD_TIP, ROLLED_BACK, state_label
from app.gui.icons import status_icon
from app.gui.plan_reader import PlanMark
from app.gui.table_model import Column, ColumnTableModel

STATE_ICONS: dict[str, str] = {
    ModuleState.READY: ItemStatus.PENDING,
    ModuleState.DEPLOYED: ItemStatus.DEPLOYED,
    ModuleState.COMPILATION_FAILED: ItemStatus.FAILED,
    ModuleState.NOT_PREPARED: ItemStatus.SKIPPED,
}
ANY_STATE = ""
IN_A_RUN = "in-a-run"  # not a state: the modules an active run holds, whatever their state
DRIFT = "drift"  # not a state either: modules whose front-ends run different releases
DRIFT_MARK = "front-ends disagree"
DRIFT_TIP = (
    "The enabled front-ends run different releases of this module. Verify names each one; "
    "Deploy All or a rollback brings them back in step."
)


KEEPS_ITS_BUILD = (ModuleState.COMPILATION_FAILED, ModuleState.NOT_PREPARED)
# Once a run made a module live everywhere, Deploy All skips it for this reason, by its state.
SKIPPED_ONCE_LIVE: dict[str, str] = {
    ModuleState.COMPILATION_FAILED: SkipReason.COMPILATION_FAILED,
    ModuleState.NOT_PREPARED: SkipReason.NOT_PREPARED,
}


@dataclass(slots=True)
class ModuleEntry:
    """One row: the engine's view of the module, and what the window learnt since it was read.

    ``locked_by_run`` follows the runs as they start and end; ``run_status`` is where the module
    is in that run, when the window follows it (a run of this window, or one it polls).
    """

    view: ModuleView
    locked_by_run: int | None
    run_status: str | None = None
    run_version: int | None = None  # the version the run gave it, when it says (a rollback's target)
    drift: bool = False  # its enabled, reachable front-ends run different releases (read on a job)
    plan: PlanMark | None = None  # what Deploy All does with it, once the engine's plan is read
    search: str = field(init=False, compare=False, repr=False)  # what the text filter looks in

    def __post_init__(self) -> None:
        self.search = f"{self.view.name}\t{self.view.application}".casefold()

    @classmethod
    def of(cls, view: ModuleView) -> ModuleEntry:
        return cls(view, view.locked_by_run)

    @property
    def id(self) -> int:
        return self.view.id

    @property
    def name(self) -> str:
        return self.view.name

    @property
    def application(self) -> str:
        return self.view.application

    @property
    def description(self) -> str:
        return self.view.description

    @property
    def latest_version(self) -> int | None:
        return self.view.latest_version

    @property
    def compile_status(self) -> str | None:
        return self.view.compile_status

    @property
    def compile_reason(self) -> str | None:
        return self.view.compile_reason

    @property
    def deployed_version(self) -> int | None:
        return self.view.deployed_version

    @property
    def deployed_platform(self) -> str | None:
        return self.view.deployed_platform

    @property
    def state(self) -> str:
        return self.view.state

    @property
    def planned(self) -> bool:
        """Whether Deploy All (and so Deploy selected) would deploy it now."""
        return self.plan is not None and self.plan.deploys

    @property
    def label(self) -> str:
        label = state_label(self.state, self.locked_by_run, self.run_status, self.run_version)
        if self.locked_by_run is None and self.plan is not None and self.plan.missing_on is not None:
            return f"{label} · not on {self.plan.missing_on}"
        return f"{label} · {DRIFT_MARK}" if self.drift else label


def _differs(entry: ModuleEntry, view: ModuleView) -> bool:
    return entry.view != view or entry.locked_by_run != view.locked_by_run


def _lock_shown(entry: ModuleEntry, view: ModuleView) -> bool:
    """Whether ``view`` differs from the entry's only by a lock the entry shows already.

    A run of this window locks its modules in the table as it starts; the reload that follows
    reads the same locks from the database, and rebuilding 10,000 unchanged rows for that held
    the window for a fifth of a second at the start and the end of every big run.
    """
    old = entry.view
    return (
        entry.locked_by_run == view.locked_by_run
        and old.state == view.state
        and old.deployed_version == view.deployed_version
        and old.deployed_platform == view.deployed_platform
        and old.latest_version == view.latest_version
        and old.compile_status == view.compile_status
        and old.compile_reason == view.compile_reason
        and old.name == view.name
        and old.application == view.application
        and old.description == view.description
    )


def _deployed(view: ModuleView, version: int | None, platform: str) -> ModuleView:
    """``view`` with that version deployed on ``platform``: what a run's deployed item says.

    Made directly, not with ``dataclasses.replace``, which costs over twice as much: a big run
    deploys a few hundred modules between two ticks of the window.
    """
    return ModuleView(
        view.id,
        view.name,
        view.application,
        view.description,
        view.latest_version,
        view.compile_status,
        view.compile_reason,
        version,
        platform,
        ModuleState.DEPLOYED,
        view.locked_by_run,
    )


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def _state_tip(entry: ModuleEntry) -> str:
    if entry.locked_by_run is None and entry.plan is not None and entry.plan.missing_on is not None:
        return f"Deploy All writes it where it is missing: {entry.plan.detail}"
    if entry.drift:
        return DRIFT_TIP
    if entry.locked_by_run is not None:
        return HELD_TIP.format(run=entry.locked_by_run)
    return (entry.compile_reason or "") if entry.state == ModuleState.COMPILATION_FAILED else ""


def _state_icon(entry: ModuleEntry) -> QIcon:
    if entry.locked_by_run is not None:
        shown = ItemStatus.DEPLOYED if entry.run_status == ROLLED_BACK else entry.run_status  # live again
        return status_icon(shown or ItemStatus.DEPLOYING)
    return status_icon(STATE_ICONS.get(entry.state, ItemStatus.PENDING))


class ModulesModel(ColumnTableModel[ModuleEntry]):
    columns = (
        Column("Module", lambda m: m.name, tooltip=lambda m: m.description, width=130),
        Column("Application", lambda m: m.application, width=90),
        Column(
            "Latest version",
            lambda m: _number(m.latest_version),
            sort=lambda m: m.latest_version or 0,
            numeric=True,
            width=96,
        ),
        Column(
            "Compilation",
            lambda m: m.compile_status or "not compiled",
            tooltip=lambda m: m.compile_reason or "",
            width=84,
        ),
        Column(
            "Deployed version",
            lambda m: _number(m.deployed_version),
            sort=lambda m: m.deployed_version or 0,
            numeric=True,
            width=112,
        ),
        Column("Deployed platform", lambda m: m.deployed_platform or "", width=118),
        Column("State", lambda m: m.label, icon=_state_icon, tooltip=_state_tip, width=190),
    )

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)
        self._by_id: dict[int, int] = {}
        self._by_name: dict[str, int] = {}
        self._order: tuple[int, Qt.SortOrder] | None = None  # column and direction, once sorted
        self._counts: Counter[str] | None = None  # state_counts(), until a state changes
        self._drift: frozenset[str] = frozenset()  # casefolded names of the modules with drift
        self._plan: Mapping[int, PlanMark] | None = None  # the last plan read, by module id
        self._plan_counts: Counter[str] | None = None  # plan_counts(), until a mark changes

    # Sorting happens here, with one key per row, not in the proxy: a proxy asks Python for two
    # keys per comparison, several seconds for 100,000 modules (bench/gui_modules.py).
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.columns):
            return
        self._order = (column, order)
        self._reorder(self._sorted(self.rows))

    def _reorder(self, rows: list[ModuleEntry]) -> None:
        """Show the same entries in another order, as a layout change that keeps the selection."""
        self.layoutAboutToBeChanged.emit()
        before = {id(entry): number for number, entry in enumerate(self.rows)}
        old_indexes = self.persistentIndexList()
        self.rows = rows
        self._index_rows()
        after = {id(entry): number for number, entry in enumerate(self.rows)}
        moved = {number: after[key] for key, number in before.items()}
        self.changePersistentIndexList(old_indexes, [self.index(moved[i.row()], i.column()) for i in old_indexes])
        self.layoutChanged.emit()

    def _sorted(self, entries: list[ModuleEntry]) -> list[ModuleEntry]:
        if self._order is None:
            return entries
        number, order = self._order
        column = self.columns[number]
        key = column.sort or column.text
        return sorted(entries, key=key, reverse=order == Qt.SortOrder.DescendingOrder)

    def _index_rows(self) -> None:
        self._by_id = {e.id: n for n, e in enumerate(self.rows)}
        self._by_name = {e.name.casefold(): n for n, e in enumerate(self.rows)}

    def load(self, views: Sequence[ModuleView]) -> None:
        """New data from the database; rows stay in place when the modules are the same.

        Only rows that differ are rebuilt: a reload of 10,000 unchanged modules compares them in
        a few milliseconds on the GUI thread instead of building 10,000 new entries.
        """
        rows, by_id = self.rows, self._by_id
        if len(views) != len(rows) or any(view.id not in by_id for view in views):
            entries = [ModuleEntry.of(view) for view in views]
            for entry in entries:
                entry.drift = entry.name.casefold() in self._drift
                entry.plan = self._mark_of(entry.id)
            self.set_rows(self._sorted(entries))
            return
        changed = []
        for view in views:
            number = by_id[view.id]
            if _differs(rows[number], view):
                if _lock_shown(rows[number], view):
                    rows[number].view = view  # nothing the table shows changes
                    continue
                old = rows[number]
                renamed = old.name != view.name
                rows[number] = ModuleEntry.of(view)
                if old.locked_by_run == view.locked_by_run:
                    rows[number].run_status = old.run_status
                rows[number].drift = view.name.casefold() in self._drift
                rows[number].plan = old.plan
                changed.append(number)
                if renamed:
                    self._index_rows()
        if not changed:
            return
        self._counts = None
        self.rows_changed(changed)
        in_order = self._sorted(rows)
        if any(a is not b for a, b in zip(in_order, rows, strict=True)):  # a changed value moved rows
            self._reorder(in_order)

    def set_rows(self, rows: list[ModuleEntry]) -> None:
        self.beginResetModel()
        self.rows = rows
        self._index_rows()  # before the reset is announced: its listeners look rows up by name
        self._counts = None
        self._plan_counts = None
        self.endResetModel()

    def _mark_of(self, module_id: int) -> PlanMark | None:
        return None if self._plan is None else self._plan.get(module_id)

    def set_plan(self, marks: Mapping[int, PlanMark] | None) -> None:
        """What the engine's Deploy All plan does with each module (None: not known); only changed rows repaint."""
        self._plan = marks
        self._plan_counts = None
        changed = []
        for number, entry in enumerate(self.rows):
            mark = self._mark_of(entry.id)
            if entry.plan != mark:
                entry.plan = mark
                changed.append(number)
        self.rows_changed(changed)

    @property
    def plan_known(self) -> bool:
        return self._plan is not None

    def plan_counts(self) -> Counter[str]:
        """How many modules Deploy All deploys (``DEPLOY``) and skips for each reason, as planned and
        then moved by the runs followed since (a module a run made live is skipped as deployed)."""
        if self._plan_counts is None:
            self._plan_counts = Counter(entry.plan.action for entry in self.rows if entry.plan is not None)
        return +self._plan_counts

    def row_of(self, name: str) -> int | None:
        return self._by_name.get(name.casefold())

    def entry(self, name: str) -> ModuleEntry | None:
        number = self.row_of(name)
        return None if number is None else self.rows[number]

    def matching(self, text: str, state: str = ANY_STATE, first: int = 0, last: int | None = None) -> list[int]:
        """Numbers of the rows, from ``first`` to ``last``, whose module or application contains
        ``text`` in any case and whose state is ``state`` (or IN_A_RUN, or ANY_STATE).

        One Python pass over keys made when the rows were loaded: a few milliseconds for 100,000
        modules, where a QSortFilterProxyModel asks Python for every row's key on every keystroke.
        """
        needle = text.casefold()
        rows = enumerate(self.rows[first : None if last is None else last + 1], first)
        if state == IN_A_RUN:
            return [n for n, e in rows if e.locked_by_run is not None and needle in e.search]
        if state == DRIFT:
            return [n for n, e in rows if e.drift and needle in e.search]
        if state:
            return [n for n, e in rows if e.view.state == state and needle in e.search]
        return [n for n, e in rows if needle in e.search]

    def set_locks(self, locks: Mapping[int, int]) -> None:
        """Which module each active run holds (module id -> run id), as the database says."""
        changed = []
        for number, entry in enumerate(self.rows):
            run = locks.get(entry.id)
            if entry.locked_by_run != run:
                entry.locked_by_run, entry.run_status = run, None
                changed.append(number)
        self.rows_changed(changed)

    def set_drift(self, names: Iterable[str]) -> None:
        """The modules whose front-ends disagree (``FarmState.disagreeing``); only changed rows repaint."""
        self._drift = frozenset(name.casefold() for name in names)
        changed = []
        for number, entry in enumerate(self.rows):
            drift = entry.name.casefold() in self._drift
            if entry.drift != drift:
                entry.drift = drift
                changed.append(number)
        self.rows_changed(changed)

    def drift_count(self) -> int:
        return sum(1 for entry in self.rows if entry.drift)

    def lock(self, names: Iterable[str], run_id: int) -> None:
        """The modules a run of this window holds, by name in any case."""
        self.lock_keys([name.casefold() for name in names], run_id)

    def lock_keys(self, keys: Iterable[str], run_id: int) -> None:
        """The same by casefolded names (a run's ``held``); a plain loop: a big run locks 10,000 at once."""
        rows, by_name, pending = self.rows, self._by_name, ItemStatus.PENDING
        changed = []
        for key in keys:
            number = by_name.get(key)
            if number is not None:
                entry = rows[number]
                if entry.locked_by_run != run_id:
                    entry.locked_by_run, entry.run_status = run_id, pending
                    changed.append(number)
        self.rows_changed(changed)

    def note_run_status(self, run_id: int, moved: Iterable[tuple[str, str, int | None]], platform: str) -> None:
        """Where the modules a run holds are in it: (name, item status, version) for each that moved.

        A deploy run's deployed modules are deployed here at once, before the next reload says so.
        """
        rows, by_name = self.rows, self._by_name
        changed = []
        for name, status, version in moved:
            number = by_name.get(name.casefold())
            if number is None or rows[number].locked_by_run != run_id:
                continue
            entry = rows[number]
            entry.run_status, entry.run_version = status, version
            if status == ItemStatus.DEPLOYED and platform and entry.planned:
                self._leave_plan(entry)
            # A module that did not compile (or is not prepared) for the platform was only given
            # its older live build on a front-end that lacked it: what it runs has not changed.
            if status == ItemStatus.DEPLOYED and platform and entry.view.state not in KEEPS_ITS_BUILD:
                if self._counts is not None:  # kept up to date: recounting 10,000 rows per tick shows
                    self._counts[entry.view.state] -= 1
                    self._counts[ModuleState.DEPLOYED] += 1
                entry.view = _deployed(entry.view, version, platform)
            changed.append(number)
        # One signal per run of rows, not one over all of them: a view repaints only the changed
        # rows it shows (a signal over the whole range repainted the visible table every tick).
        self.rows_changed(changed)

    def _leave_plan(self, entry: ModuleEntry) -> None:
        """A run made the module live on every enabled front-end: Deploy All skips it now."""
        assert entry.plan is not None
        skipped = SKIPPED_ONCE_LIVE.get(entry.view.state, SkipReason.ALREADY_DEPLOYED)
        if self._plan_counts is not None:  # kept up to date, like the state counts
            self._plan_counts[entry.plan.action] -= 1
            self._plan_counts[skipped] += 1
        entry.plan = PlanMark(skipped)

    def unlock_run(self, run_id: int) -> None:
        self.set_locks({e.id: e.locked_by_run for e in self.rows if e.locked_by_run not in (None, run_id)})

    def mark_deployed(self, name: str, version: int | None, platform: str) -> None:
        def deployed(entry: ModuleEntry) -> None:
            if entry.planned:
                self._leave_plan(entry)
            entry.view = replace(
                entry.view, deployed_version=version, deployed_platform=platform, state=ModuleState.DEPLOYED
            )

        self._update([name], deployed)
        self._counts = None

    def state_counts(self) -> Counter[str]:
        """How many modules are in each state (all of them, whatever a filter shows)."""
        if self._counts is None:  # asked several times per update by the Upgrades pane
            self._counts = Counter(entry.view.state for entry in self.rows)
        return +self._counts  # a copy, without the states no module is in any more

    def _update(self, names: Iterable[str], change: Callable[[ModuleEntry], None]) -> None:
        changed = []
        for name in names:
            number = self._by_name.get(name.casefold())
            if number is not None:
                change(self.rows[number])
                changed.append(number)
        self.rows_changed(changed)
