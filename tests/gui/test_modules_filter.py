"""The Modules filter: text, state and "in a run", together with sorting and with rows that change.

The demo has 30 modules: 24 ready to deploy, 6 whose compilation failed (4 of them in Logistics).
Every test runs with QAbstractItemModelTester on the model and on the filter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from PySide6.QtCore import QAbstractItemModel, QItemSelectionModel, QModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester

from app.engine import operations
from app.engine.read import views
from app.gui import filters
from app.gui.filters import IN_A_RUN, ModuleFilter
from app.gui.modules.model import ModulesModel
from app.gui.session import GuiSession
from tests.gui.conftest import module_entry

FAILED = ["CarrierGateway", "Payroll", "Recruiting", "ReturnsDesk", "Tracking", "VendorCatalogSync"]
LOGISTICS = ["CarrierGateway", "Inventory", "ReturnsDesk", "Shipping", "Tracking", "VendorCatalogSync", "Warehouses"]


@dataclass
class Filtered:
    model: ModulesModel
    proxy: ModuleFilter
    signals: list[str]

    def names(self) -> list[str]:
        return [self.proxy.entry(row).name for row in range(self.proxy.rowCount())]

    def index_of(self, name: str) -> QModelIndex:
        number = self.model.row_of(name)
        assert number is not None
        return self.proxy.mapFromSource(self.model.index(number, 0))


@pytest.fixture
def filtered(session: GuiSession) -> Iterator[Filtered]:
    model = ModulesModel()
    model.load(views.modules(session.ctx))
    proxy = ModuleFilter(model)
    mode = QAbstractItemModelTester.FailureReportingMode.Warning  # a broken rule fails the test
    testers = [QAbstractItemModelTester(model, mode), QAbstractItemModelTester(proxy, mode)]
    made = Filtered(model, proxy, [])
    proxy.rowsInserted.connect(lambda _, first, last: made.signals.append(f"inserted {first}-{last}"))
    proxy.rowsRemoved.connect(lambda _, first, last: made.signals.append(f"removed {first}-{last}"))
    proxy.dataChanged.connect(lambda a, b: made.signals.append(f"changed {a.row()}-{b.row()}"))
    proxy.layoutChanged.connect(lambda: made.signals.append("layout"))
    yield made
    assert len(testers) == 2


def test_text_matches_the_module_or_the_application_in_any_case(filtered: Filtered) -> None:
    filtered.proxy.set_text("LOGIST")
    assert filtered.names() == LOGISTICS
    filtered.proxy.set_text(" pay ")
    assert filtered.names() == ["Payments", "Payroll"]
    filtered.proxy.set_text("nothing like it")
    assert filtered.names() == []
    filtered.proxy.set_text("")
    assert filtered.proxy.rowCount() == 30


def test_state_and_text_together(filtered: Filtered) -> None:
    filtered.proxy.set_state("compilation-failed")
    assert sorted(filtered.names()) == FAILED
    filtered.proxy.set_text("logistics")
    assert sorted(filtered.names()) == ["CarrierGateway", "ReturnsDesk", "Tracking", "VendorCatalogSync"]
    filtered.proxy.set_state("ready")
    assert sorted(filtered.names()) == ["Inventory", "Shipping", "Warehouses"]


def test_held_by_an_active_run_follows_the_locks(filtered: Filtered) -> None:
    filtered.proxy.set_state(IN_A_RUN)
    assert filtered.names() == []
    filtered.signals.clear()
    filtered.model.lock(["Orders", "Customers"], 7)  # neighbours in the table
    assert filtered.names() == ["Customers", "Orders"]
    assert filtered.signals == ["inserted 0-1", "changed 0-1"], "rows join with rowsInserted, not a reset"
    filtered.model.set_locks({module_entry(filtered.model, "Payroll").id: 8})
    assert filtered.names() == ["Payroll"]
    filtered.model.unlock_run(8)
    assert filtered.names() == []


def test_a_row_leaves_at_once_when_its_state_no_longer_matches(filtered: Filtered) -> None:
    filtered.proxy.set_state("ready")
    filtered.proxy.set_text("o")
    before = filtered.names()
    assert "Orders" in before
    filtered.signals.clear()
    filtered.model.mark_deployed("Orders", 1, "11.19.0")
    assert filtered.names() == [name for name in before if name != "Orders"]
    assert filtered.signals == [f"removed {before.index('Orders')}-{before.index('Orders')}"]
    filtered.proxy.set_state("deployed")
    assert filtered.names() == ["Orders"]


def test_a_shown_row_that_still_matches_is_repainted_and_a_hidden_one_is_not(filtered: Filtered) -> None:
    filtered.proxy.set_state("ready")
    filtered.proxy.set_text("sales")
    row = filtered.index_of("Orders").row()
    filtered.signals.clear()
    filtered.model.lock(["Orders"], 3)  # still ready: stays, with a new State text
    assert filtered.signals == [f"changed {row}-{row}"]
    state = filtered.proxy.index(row, filtered.model.column_index("State"))
    assert filtered.proxy.data(state) == "Waiting in run 3"
    filtered.signals.clear()
    filtered.model.lock(["Payroll"], 3)  # not in Sales
    filtered.model.mark_deployed("Payroll", 1, "11.19.0")
    assert filtered.signals == []


def test_sorting_while_filtered_keeps_the_filter(filtered: Filtered) -> None:
    module = filtered.model.column_index("Module")
    filtered.proxy.set_text("s")
    filtered.proxy.sort(module, Qt.SortOrder.DescendingOrder)  # sorted by the model
    names = filtered.names()
    assert names == sorted(names, reverse=True)
    assert all("s" in f"{e.name} {e.application}".casefold() for e in map(filtered.model.entry, names) if e)
    assert [e.name for e in filtered.model.rows] == sorted((e.name for e in filtered.model.rows), reverse=True)
    filtered.proxy.set_text("")
    filtered.proxy.set_state("compilation-failed")
    assert filtered.names() == sorted(FAILED, reverse=True)
    filtered.proxy.sort(module, Qt.SortOrder.AscendingOrder)
    assert filtered.names() == sorted(FAILED)


def test_the_selection_follows_its_row_while_it_is_shown(filtered: Filtered) -> None:
    selection = QItemSelectionModel(filtered.proxy)
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    selection.select(filtered.index_of("Orders"), flags)

    def selected() -> list[str]:
        return [filtered.proxy.entry(index.row()).name for index in selection.selectedRows()]

    filtered.proxy.set_text("ord")
    assert selected() == ["Orders"]
    filtered.proxy.sort(filtered.model.column_index("Module"), Qt.SortOrder.DescendingOrder)
    assert selected() == ["Orders"]
    filtered.model.lock(["Orders"], 4)
    filtered.proxy.set_state(IN_A_RUN)
    assert selected() == ["Orders"]
    filtered.model.unlock_run(4)
    assert selected() == []


def test_many_rows_joining_at_once_filter_the_table_again(filtered: Filtered, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filters, "MOST_ROW_SIGNALS", 3)
    filtered.proxy.set_state(IN_A_RUN)
    filtered.signals.clear()
    filtered.model.lock(LOGISTICS, 5)  # one run of 7 consecutive rows
    assert filtered.signals == ["layout"]
    assert filtered.names() == LOGISTICS
    filtered.model.lock(["Orders"], 5)
    assert filtered.signals[-2:] == ["inserted 7-7", "changed 7-7"], "a few rows: row signals"


def test_a_reload_while_filtered(session: GuiSession, filtered: Filtered) -> None:
    filtered.proxy.set_state("ready")
    filtered.proxy.set_text("sales")
    assert len(filtered.names()) == 6
    operations.deploy_modules(session.ctx, operations.resolve_modules(session.ctx, ["Orders", "Quotes"]))
    filtered.model.load(views.modules(session.ctx))  # same modules: rows change in place
    assert "Orders" not in filtered.names() and "Quotes" not in filtered.names()
    assert len(filtered.names()) == 4
    operations.delete_module(session.ctx, "Pricing")
    filtered.model.load(views.modules(session.ctx))  # a module less: a reset
    assert sorted(filtered.names()) == ["Customers", "Products", "SalesPortal"]


def test_state_counts_count_every_module_whatever_is_shown(filtered: Filtered) -> None:
    filtered.proxy.set_state("compilation-failed")
    filtered.proxy.set_text("payroll")
    assert filtered.names() == ["Payroll"]
    assert filtered.model.state_counts() == {"ready": 24, "compilation-failed": 6}
    filtered.model.mark_deployed("Orders", 1, "11.19.0")  # not shown
    assert filtered.model.state_counts() == {"ready": 23, "compilation-failed": 6, "deployed": 1}


def test_filtering_and_sorting_tell_views_that_whole_rows_move(filtered: Filtered) -> None:
    # With this hint a selection model keeps one persistent index per selected row, not per cell:
    # a filter change with thousands of selected rows stays a fraction of a second.
    hints: list[QAbstractItemModel.LayoutChangeHint] = []
    # PySide6's stubs do not describe picking a signal's overload by its signature.
    with_hint = filtered.proxy.layoutAboutToBeChanged[filters.LAYOUT_SIGNATURE]  # type: ignore[index]
    with_hint.connect(lambda _, hint: hints.append(hint))
    filtered.proxy.set_text("sales")
    filtered.proxy.sort(filtered.model.column_index("Module"), Qt.SortOrder.DescendingOrder)
    assert hints == [QAbstractItemModel.LayoutChangeHint.VerticalSortHint] * 2
