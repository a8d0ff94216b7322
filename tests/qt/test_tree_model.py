"""The lazy hierarchy tree model and its filter proxy, on real stores written with zarr-python."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from qtpy.QtCore import QCoreApplication, QModelIndex, Qt
from qtpy.QtWidgets import QTreeView

from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.store import RequestPolicy
from zarr_browser.errors import StoreReadError
from zarr_browser.qt.filter_model import HierarchyFilterModel
from zarr_browser.qt.tree_model import HierarchyTreeModel
from zarr_browser.qt.workers import ImmediateRunner

Model = HierarchyTreeModel


def make_model(url: str | Path, registry: Any, runner: Any = None, *, page_size: int = Model.PAGE_SIZE,
               storage_options: dict | None = None, policy: RequestPolicy | None = None) -> HierarchyTreeModel:
    """A model showing the store at *url* (opened here, synchronously: test set-up only)."""
    hierarchy = Hierarchy.open(str(url), storage_options=storage_options, policy=policy, hints=registry.child_hints)
    model = HierarchyTreeModel(runner=runner or ImmediateRunner(), registry=registry, page_size=page_size)
    model.setHierarchy(hierarchy)
    return model


def root_index(model: HierarchyTreeModel) -> QModelIndex:
    return model.index(0, 0, QModelIndex())


def rows(model: Any, parent: QModelIndex) -> list[tuple[str, str]]:
    """``(state, name or text)`` of every row under *parent*."""
    out = []
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        out.append((index.data(Model.StateRole), index.data()))
    return out


def names(model: Any, parent: QModelIndex) -> list[str]:
    return [name for state, name in rows(model, parent) if state == Model.NODE]


def child(model: Any, parent: QModelIndex, name: str) -> QModelIndex:
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        if index.data() == name and index.data(Model.StateRole) == Model.NODE:
            return index
    raise AssertionError(f"{name!r} not under {parent.data()!r}: {rows(model, parent)}")


def expand(view: QTreeView, index: QModelIndex) -> None:
    """Expand *index* and lay the view out now (a hidden view lays out lazily; layout fetches)."""
    view.expand(index)
    view.doItemsLayout()


def settle(model: HierarchyTreeModel, timeout: float = 30.0) -> None:
    """Let the rows of the pages listed go in: a page's rows go in over turns of the event loop
    once a turn has taken its share of time, with ImmediateRunner too (a loaded machine)."""
    end = time.monotonic() + timeout
    while model.hasPendingOperations():
        assert time.monotonic() < end, "the rows did not go in"
        QCoreApplication.processEvents()


def fetch_all(model: HierarchyTreeModel, parent: QModelIndex = QModelIndex()) -> None:  # noqa: B008
    """List every group (ImmediateRunner: synchronous reads)."""
    settle(model)
    while model.canFetchMore(parent):
        model.fetchMore(parent)
        settle(model)
    for row in range(model.rowCount(parent)):
        fetch_all(model, model.index(row, 0, parent))


@pytest.fixture
def sample(tmp_path: Path, zarr_stores: Any) -> Path:
    store = tmp_path / "sample.zarr"
    zarr_stores.sample(str(store), 3)
    return store


# -- model conformance ---------------------------------------------------------------------


def test_modeltester_immediate_runner(qtmodeltester: Any, sample: Path, registry: Any) -> None:
    model = make_model(sample, registry)
    qtmodeltester.check(model)  # fetches more by itself, synchronously
    fetch_all(model)
    qtmodeltester.check(model)
    proxy = HierarchyFilterModel()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy)
    proxy.setFilterText("val")
    qtmodeltester.check(proxy)
    assert names(proxy, root_index(proxy)) == ["nested"]


def test_modeltester_thread_runner_after_loading(qtmodeltester: Any, qtbot: Any, sample: Path, registry: Any,
                                                 thread_runner: Any) -> None:
    model = make_model(sample, registry, thread_runner)
    proxy = HierarchyFilterModel()
    proxy.setSourceModel(model)
    view = QTreeView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    qtmodeltester.check(model)
    qtmodeltester.check(proxy)
    view.expandAll()  # lists every group (in the runner) as it becomes visible
    for _ in range(4):  # one level per round
        qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=10_000)
        view.expandAll()
    qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=10_000)
    deeper = child(model, child(model, root_index(model), "nested"), "deeper")
    assert names(model, deeper) == ["values"]
    qtmodeltester.check(model)
    qtmodeltester.check(proxy)


# -- lazy listing --------------------------------------------------------------------------


def test_groups_are_listed_when_expanded_with_a_loading_row(qtbot: Any, sample: Path, registry: Any,
                                                            thread_runner: Any) -> None:
    model = make_model(sample, registry, thread_runner)
    root = root_index(model)
    assert root.data() == "sample.zarr"
    assert model.hasChildren(root) and model.rowCount(root) == 0, "listed before anyone asked"
    view = QTreeView()
    qtbot.addWidget(view)
    view.setModel(model)
    inserted: list[str] = []
    model.rowsInserted.connect(lambda parent, first, _last: inserted.append(model.index(first, 0, parent).data()))
    expand(view, root)  # the view calls fetchMore
    assert inserted[0] == "Loading…"
    qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=10_000)
    assert names(model, root) == ["empty", "labels", "nested", "raw"]
    labels = child(model, root, "labels")
    assert model.hasChildren(labels) and model.rowCount(labels) == 0, "children listed before expansion"
    raw = child(model, root, "raw")
    assert not model.hasChildren(raw)
    texts = [model.index(raw.row(), c, root).data() for c in range(5)]
    assert texts[:4] == ["raw", "array", "4 × 6", "int16"] and texts[4].startswith("v3")
    assert raw.data(Model.PathRole) == "/raw"
    assert raw.data(Model.NodeRole).array.chunks == (2, 3)
    assert "chunks [2, 3]" in raw.data(Qt.ItemDataRole.ToolTipRole)
    empty = child(model, root, "empty")
    expand(view, model.index(empty.row(), 0, root))
    qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=10_000)
    assert rows(model, empty) == [] and not model.hasChildren(empty)


def test_kinds_icons_and_badges_on_the_demo(demo_root: Path, registry: Any) -> None:
    model = make_model(demo_root, registry)
    fetch_all(model)
    root = root_index(model)
    kinds = {name: child(model, root, name).data(Model.KindRole) for name in names(model, root)}
    assert kinds == {"cells.ome.zarr": "ome-image", "climate.zarr": "cf-dataset", "plate.ome.zarr": "plate"}
    cells = child(model, root, "cells.ome.zarr")
    nuclei = child(model, child(model, cells, "labels"), "nuclei")
    assert nuclei.data(Model.KindRole) == "label-image"
    plate = child(model, root, "plate.ome.zarr")
    well = child(model, child(model, plate, "A"), "1")
    assert (well.data(Model.KindRole), model.index(well.row(), 1, well.parent()).data()) == ("well", "OME well")
    badges = model.index(cells.row(), Model.CONVENTIONS_COLUMN, root).data(Model.BadgesRole)
    assert [text for text, _colour in badges] == ["v3", "OME 0.5"]
    assert not cells.data(Qt.ItemDataRole.DecorationRole).isNull()
    level0 = child(model, cells, "0")
    assert "dimensions c, y, x" in level0.data(Qt.ItemDataRole.ToolTipRole)


def test_a_corrupt_child_is_an_error_row_and_its_siblings_list(qtbot: Any, sample: Path, registry: Any,
                                                                thread_runner: Any) -> None:
    (sample / "labels" / "zarr.json").write_text('{"zarr_format": 3, "node_type": ')
    model = make_model(sample, registry, thread_runner)
    view = QTreeView()
    qtbot.addWidget(view)
    view.setModel(model)
    expand(view, root_index(model))
    qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=10_000)
    root = root_index(model)
    assert names(model, root) == ["empty", "labels", "nested", "raw"]
    labels = child(model, root, "labels")
    assert labels.data(Model.NodeRole).kind == "error"
    assert model.index(labels.row(), Model.KIND_COLUMN, root).data() == "error"
    conventions = model.index(labels.row(), Model.CONVENTIONS_COLUMN, root).data()
    assert conventions.startswith("failed: labels/zarr.json")
    assert labels.data(Qt.ItemDataRole.ForegroundRole).color().name() == "#b91c1c"
    assert labels.data(Model.KindRole) == "error"
    # its children's documents are valid: it lists them as an implicit group would (audit C)
    assert model.hasChildren(labels)
    expand(view, labels)
    qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=10_000)
    assert names(model, labels) == ["mask"]


def test_a_failed_listing_becomes_a_failed_row(qtbot: Any, sample: Path, registry: Any, thread_runner: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_model(sample, registry, thread_runner)
    hierarchy = model.hierarchy()

    def broken(path: str, **_kwargs: Any) -> Any:
        raise StoreReadError(f"cannot list {path}: connection reset")

    monkeypatch.setattr(hierarchy, "children", broken)
    with qtbot.waitSignal(model.listingFailed, timeout=10_000) as failed:
        model.fetchMore(root_index(model))
    assert failed.args == ["/", "cannot list /: connection reset"]
    assert rows(model, root_index(model)) == [(Model.FAILED, "failed: cannot list /: connection reset")]
    assert not model.canFetchMore(root_index(model))
    assert not model.hasPendingOperations()
    monkeypatch.undo()
    model.refresh(root_index(model))  # refresh retries
    qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=10_000)
    assert names(model, root_index(model)) == ["empty", "labels", "nested", "raw"]


@pytest.mark.network
def test_unlistable_remote_group_shows_a_warning_and_declared_children(http_server: Any, demo_root: Path,
                                                                         registry: Any) -> None:
    shutil.copytree(demo_root / "cells.ome.zarr", Path(http_server.root) / "cells.ome.zarr")
    http_server.listing = False  # static hosting without directory indexes, no consolidated metadata
    model = make_model(http_server.url_for("cells.ome.zarr"), registry)
    root = root_index(model)
    model.fetchMore(root)
    found = rows(model, root)
    state, text = found[0]
    assert state == Model.WARNING
    assert text.startswith("could not list: ") and text.endswith("; showing children declared by metadata")
    assert names(model, root) == ["0", "1", "2", "3", "labels"]


def test_huge_groups_are_fetched_page_by_page(qtbot: Any, tmp_path: Path, registry: Any,
                                              make_many_group: Any) -> None:
    store = make_many_group(tmp_path / "many.zarr", 1234, consolidate=False)
    model = make_model(store, registry, page_size=500)
    root = root_index(model)

    def fetch() -> None:  # rows go in over several turns of the event loop (≈ 12 ms of GUI time each)
        model.fetchMore(root)
        qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=10_000)

    fetch()
    assert model.rowCount(root) == 500
    assert names(model, root)[:3] == ["a0", "a1", "a2"], "natural order"
    assert model.canFetchMore(root)
    fetch()
    fetch()
    assert model.rowCount(root) == 1234 and not model.canFetchMore(root)
    assert names(model, root)[-1] == "a1233"
    assert len(set(names(model, root))) == 1234


def test_fetch_all_lists_every_child_in_one_request(qtbot: Any, tmp_path: Path, registry: Any,
                                                   make_many_group: Any) -> None:
    """'List the other N children': 100,000 arrays were 196 End presses, a page each."""
    store = make_many_group(tmp_path / "many.zarr", 1234, consolidate=False)
    model = make_model(store, registry, page_size=100)
    root = root_index(model)
    assert model.unlistedCount(root) is None  # not known before a first page
    model.fetchMore(root)
    qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=10_000)
    assert model.rowCount(root) == 100 and model.unlistedCount(root) == 1134
    model.fetchAll(root)
    qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=20_000)
    assert model.rowCount(root) == 1234 and model.unlistedCount(root) == 0 and not model.canFetchMore(root)
    assert names(model, root)[-1] == "a1233"


def first_page_of_many(qtbot: Any, tmp_path: Path, registry: Any, make_many_group: Any,
                       thread_runner: Any) -> tuple[HierarchyTreeModel, QModelIndex]:
    """A group of 1,234 arrays with its first page of 100 listed; "list every child" goes by 300."""
    store = make_many_group(tmp_path / "many.zarr", 1234, consolidate=False)
    model = make_model(store, registry, thread_runner, page_size=100)
    model.LIST_ALL_PART = 300  # type: ignore[misc]
    root = root_index(model)
    model.fetchMore(root)
    qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=10_000)
    return model, root


def test_fetch_all_lists_the_children_part_by_part(qtbot: Any, tmp_path: Path, registry: Any,
                                                   make_many_group: Any, thread_runner: Any) -> None:
    """'List the other N children' of 100,000 arrays showed nothing for 10 s, then every row:
    the children now come in parts, each shown as soon as it is read, with the progress."""
    model, root = first_page_of_many(qtbot, tmp_path, registry, make_many_group, thread_runner)
    loaded: list[tuple[int, int, bool]] = []
    model.pageLoaded.connect(lambda path, n, total: loaded.append((n, total, model.isListingAll(path))))
    model.fetchAll(root)
    assert model.isListingAll("/") and not model.canFetchMore(root)
    qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=20_000)
    assert loaded == [(400, 1234, True), (700, 1234, True), (1000, 1234, True), (1234, 1234, False)]
    assert names(model, root) == [f"a{i}" for i in range(1234)]
    assert not model.isListingAll("/") and model.unlistedCount(root) == 0


def test_stopping_or_refreshing_while_every_child_is_listed(qtbot: Any, tmp_path: Path, registry: Any,
                                                           make_many_group: Any, thread_runner: Any) -> None:
    model, root = first_page_of_many(qtbot, tmp_path, registry, make_many_group, thread_runner)
    stop_at: list[Callable[[], None]] = [model.cancelPending]
    model.pageLoaded.connect(lambda path, n, total: stop_at.pop()() if n == 400 and stop_at else None)
    model.fetchAll(root)
    qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=20_000)
    shown = rows(model, root)
    assert [name for state, name in shown if state == Model.NODE] == [f"a{i}" for i in range(400)]
    assert shown[-1] == (Model.FAILED, "stopped: 834 more children not listed "
                                       "(List the other children in the context menu)"), "the stop is shown"
    # scrolling down does not start it again; asking does, from where it stopped
    assert not model.isListingAll("/") and not model.canFetchMore(root) and model.unlistedCount(root) == 834
    found: list[QModelIndex] = []  # revealing a child not listed lists up to it: the stop is over
    model.revealPath("/a450", found.append)
    qtbot.waitUntil(lambda: bool(found), timeout=10_000)
    assert found[0].data() == "a450" and Model.FAILED not in {state for state, _ in rows(model, root)}
    assert model.canFetchMore(root) and not model.isStopped("/")
    model.fetchAll(root)
    qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=20_000)
    assert rows(model, root) == [(Model.NODE, f"a{i}") for i in range(1234)]
    # a refresh in the middle: the group is listed again from its first page, nothing stale
    model.refresh(root)
    qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=10_000)
    model.fetchAll(root)
    stop_at.append(lambda: model.refresh(root_index(model)))
    qtbot.waitUntil(lambda: not stop_at and not model.hasPendingOperations(), timeout=20_000)
    assert names(model, root) == [f"a{i}" for i in range(100)] and model.unlistedCount(root) == 1134


def test_reveal_path_lists_only_what_is_needed(qtbot: Any, sample: Path, registry: Any, thread_runner: Any) -> None:
    model = make_model(sample, registry, thread_runner)
    found: list[QModelIndex] = []
    model.revealPath("/nested/deeper/values", found.append)
    qtbot.waitUntil(lambda: bool(found), timeout=10_000)
    assert found[0].isValid() and found[0].data(Model.PathRole) == "/nested/deeper/values"
    assert model.indexForPath("/nested/deeper/values") == found[0]
    labels = model.indexForPath("/labels")
    assert labels.isValid() and model.rowCount(labels) == 0, "a sibling group was listed"
    missing: list[QModelIndex] = []
    model.revealPath("/nested/nothing/here", missing.append)
    qtbot.waitUntil(lambda: bool(missing), timeout=10_000)
    assert not missing[0].isValid()


def test_reveal_deep_in_a_huge_group_loads_up_to_the_child(qtbot: Any, many_root: Path, registry: Any,
                                                          thread_runner: Any) -> None:
    model = make_model(many_root / "many.zarr", registry, thread_runner)
    found: list[QModelIndex] = []
    model.revealPath("/a1234", found.append)  # near: the rows before it are listed with it
    qtbot.waitUntil(lambda: bool(found), timeout=30_000)
    assert found[0].data() == "a1234"
    root = root_index(model)
    assert model.rowCount(root) >= 1235 and model.canFetchMore(root)
    assert names(model, root)[:1235] == [f"a{i}" for i in range(1235)]


def test_reveal_far_down_a_huge_group_reads_that_child_alone(qtbot: Any, many_root: Path, registry: Any,
                                                            thread_runner: Any) -> None:
    """Revealing a9876 listed the 9,876 rows before it (100,000-array groups: seconds and a
    gigabyte); it is shown after the rows listed, and the listing skips it when it gets there."""
    model = make_model(many_root / "many.zarr", registry, thread_runner)
    root = root_index(model)
    model.fetchMore(root)
    qtbot.waitUntil(lambda: model.rowCount(root) == Model.PAGE_SIZE and model.pendingCount() == 0, timeout=30_000)
    found: list[QModelIndex] = []
    model.revealPath("/a9876", found.append)
    qtbot.waitUntil(lambda: bool(found), timeout=30_000)
    assert found[0].isValid() and found[0].data() == "a9876" and found[0].data(Model.StateRole) == Model.NODE
    assert found[0].row() == Model.PAGE_SIZE and model.rowCount(root) == Model.PAGE_SIZE + 1
    assert model.isLoaded("/a9876") and model.canFetchMore(root)
    model.fetchAll(root)
    qtbot.waitUntil(lambda: not model.canFetchMore(root) and model.pendingCount() == 0, timeout=60_000)
    listed = names(model, root)
    assert len(listed) == 10_000 and listed.count("a9876") == 1
    assert sorted(listed, key=lambda name: int(name[1:])) == [f"a{i}" for i in range(10_000)]
    assert model.indexForPath("/a9876").row() == Model.PAGE_SIZE  # where it was shown


def test_refresh_picks_up_new_children(sample: Path, registry: Any, zarr_stores: Any) -> None:
    import zarr

    model = make_model(sample, registry)
    root = root_index(model)
    model.fetchMore(root)
    assert "added" not in names(model, root)
    zarr.open_group(str(sample), mode="a").create_array("added", shape=(3,), dtype="u1")
    model.refresh(root)
    assert names(model, root) == ["added", "empty", "labels", "nested", "raw"]
    # the root itself stays known: revealing nodes after refreshing "/" found nothing
    assert model.isLoaded("/") and model.indexForPath("/").isValid()
    found: list[QModelIndex] = []
    model.revealPath("/nested", found.append)
    assert found and found[0].isValid() and found[0].data() == "nested"


def test_rereading_a_saved_group_updates_the_rows_of_its_children(demo_root: Path, tmp_path: Path,
                                                                   registry: Any) -> None:
    """What a child row shows may come from its parent (a v3 array with dimension names is an
    xarray variable unless its group is a multiscale image): a re-read after a save brings the
    shown children up to date."""
    import zarr

    image = tmp_path / "cells.ome.zarr"
    shutil.copytree(demo_root / "cells.ome.zarr", image)
    model = make_model(image, registry)
    root = root_index(model)
    model.fetchMore(root)
    level = child(model, root, "0")

    def badges() -> str:
        return str(model.index(level.row(), Model.CONVENTIONS_COLUMN, root).data())

    assert "xarray" not in badges()  # a pyramid level
    updated: list[str] = []
    model.nodeUpdated.connect(updated.append)
    group = zarr.open_group(str(image), mode="a")
    group.attrs.update({"ome": {"version": "0.5"}})  # the multiscales are gone: "0" is a plain array now
    model.rereadPath("/")
    assert updated == ["/"]
    assert "xarray" in badges()  # the group is no image any more: the array reads as a variable
    assert child(model, root, "0").data(Model.NodeRole).path == "/0"


@pytest.mark.network
def test_cancel_turns_a_hanging_listing_into_a_row(qtbot: Any, http_server: Any, zarr_stores: Any, registry: Any,
                                                   thread_runner: Any) -> None:
    zarr_stores.sample(str(Path(http_server.root) / "s.zarr"), 2)
    model = make_model(http_server.url_for("s.zarr"), registry, thread_runner,
                       policy=RequestPolicy(attempt_timeout=30, deadline=30, retries=0))
    http_server.faults.add("s.zarr/*/.z*", "hang")
    http_server.faults.add("s.zarr/", "hang")
    root = root_index(model)
    model.fetchMore(root)
    assert rows(model, root) == [(Model.LOADING, "Loading…")]
    with qtbot.waitSignal(model.pendingChanged, timeout=5_000):
        model.cancelPending()
    assert not model.hasPendingOperations()
    assert rows(model, root) == [(Model.FAILED, "failed: cancelled (refresh to try again)")]


def _slow_child_model(http_server: Any, registry: Any, runner: Any, monkeypatch: Any, fault: str) -> HierarchyTreeModel:
    """A v3 group of arrays a..f and a group g over HTTP whose child c answers as *fault* says."""
    import zarr

    from zarr_browser.qt import tree_model

    monkeypatch.setattr(tree_model, "LISTING_PATIENCE", 0.3)
    group = zarr.open_group(Path(http_server.root) / "p.zarr", mode="w", zarr_format=3)
    for name in "abcdef":
        group.create_array(name, shape=(4,), dtype="u1")
    group.create_group("g")
    http_server.faults.add("p.zarr/c/zarr.json", fault)
    return make_model(http_server.url_for("p.zarr"), registry, runner,
                      policy=RequestPolicy(attempt_timeout=1.0, deadline=2.0, retries=1, backoff=0.01))


def test_a_slow_child_shows_as_loading_and_its_siblings_do_not_wait(qtbot: Any, qtmodeltester: Any, http_server: Any,
                                                                    registry: Any, thread_runner: Any,
                                                                    monkeypatch: Any) -> None:
    model = _slow_child_model(http_server, registry, thread_runner, monkeypatch, "hang")
    root = root_index(model)
    with qtbot.waitSignal(model.pageLoaded, timeout=1_900):  # before the hanging read's deadline
        model.fetchMore(root)
    assert rows(model, root) == [(Model.NODE, "a"), (Model.NODE, "b"), (Model.PENDING, "c"), (Model.NODE, "d"),
                                 (Model.NODE, "e"), (Model.NODE, "f"), (Model.NODE, "g")]
    pending = model.index(2, 0, root)
    assert not pending.flags() & Qt.ItemFlag.ItemIsSelectable
    assert model.index(2, Model.KIND_COLUMN, root).data() == "loading…"
    assert "slow to answer" in pending.data(Qt.ItemDataRole.ToolTipRole)
    assert model.hasPendingOperations()
    qtmodeltester.check(model)
    qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=10_000)
    # the read failed at its deadline: the row becomes the error node, in place
    assert names(model, root) == list("abcdefg")
    c = child(model, root, "c")
    assert c.data(Model.KindRole) == "error" and "c/zarr.json" in c.data(Model.NodeRole).error
    assert c.flags() & Qt.ItemFlag.ItemIsSelectable
    assert not model.canFetchMore(root)
    qtmodeltester.check(model)


def test_many_pending_rows_become_node_rows_in_place(qtbot: Any, qtmodeltester: Any, http_server: Any, registry: Any,
                                                    thread_runner: Any, monkeypatch: Any) -> None:
    """Rows a slow listing left pending become their nodes in place, in batches, in reading
    chunks; a pending group becomes expandable through the proxy and the view (removing and
    inserting each row froze the window for 50–100 s on 100,000 rows over HTTP; audit C)."""
    import zarr

    from zarr_browser.qt import tree_model

    monkeypatch.setattr(tree_model, "LISTING_PATIENCE", 0.05)
    monkeypatch.setattr(Model, "PENDING_READ_CHUNK", 40)
    group = zarr.open_group(Path(http_server.root) / "m.zarr", mode="w", zarr_format=3)
    for i in range(150):
        group.create_array(f"a{i:03d}", shape=(2,), dtype="u1")
    group.create_group("g").create_array("inner", shape=(2,), dtype="u1")
    http_server.latency = 0.02
    model = make_model(http_server.url_for("m.zarr"), registry, thread_runner)
    proxy = HierarchyFilterModel()
    proxy.setSourceModel(model)
    view = QTreeView()
    view.setModel(proxy)
    root = root_index(model)
    with qtbot.waitSignal(model.pageLoaded, timeout=10_000):
        model.fetchMore(root)
    assert sum(state == Model.PENDING for state, _ in rows(model, root)) > 40  # more than one reading chunk
    qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=30_000)
    assert names(model, root) == [f"a{i:03d}" for i in range(150)] + ["g"]  # every row a node, in order
    http_server.latency = 0.0
    a7 = child(model, root, "a007")
    assert a7.data(Model.KindRole) == "array" and a7.flags() & Qt.ItemFlag.ItemIsSelectable
    assert a7.data(Qt.ItemDataRole.ForegroundRole) is None
    assert model.index(a7.row(), Model.KIND_COLUMN, root).data(Qt.ItemDataRole.ToolTipRole) is None
    g = child(model, root, "g")
    proxy_g = proxy.mapFromSource(g)
    assert proxy.hasChildren(proxy_g)
    expand(view, proxy.mapFromSource(root))
    expand(view, proxy_g)
    qtbot.waitUntil(lambda: names(model, g) == ["inner"], timeout=10_000)
    qtmodeltester.check(model)


def test_reveal_waits_for_a_child_still_being_read(qtbot: Any, http_server: Any, registry: Any, thread_runner: Any,
                                                   monkeypatch: Any) -> None:
    model = _slow_child_model(http_server, registry, thread_runner, monkeypatch, "slow:0.8")
    found: list[QModelIndex] = []
    model.revealPath("/c", found.append)
    qtbot.waitUntil(lambda: bool(found), timeout=10_000)
    assert found[0].isValid() and found[0].data() == "c" and found[0].data(Model.KindRole) == "array"
    assert http_server.stats.by_path["p.zarr/c/zarr.json"] == 1  # the listing's read, not a second one


def test_cancel_marks_children_still_being_read(qtbot: Any, http_server: Any, registry: Any, thread_runner: Any,
                                                monkeypatch: Any) -> None:
    model = _slow_child_model(http_server, registry, thread_runner, monkeypatch, "hang")
    root = root_index(model)
    with qtbot.waitSignal(model.pageLoaded, timeout=1_900):
        model.fetchMore(root)
    model.cancelPending()
    assert not model.hasPendingOperations()
    assert model.index(2, 0, root).data(Model.StateRole) == Model.FAILED
    assert model.index(2, 0, root).data() == "c (cancelled: refresh to try again)"
    http_server.reset()  # free the hanging request


# -- filter proxy --------------------------------------------------------------------------


def test_filter_is_recursive_on_loaded_names(sample: Path, registry: Any) -> None:
    model = make_model(sample, registry)
    fetch_all(model)
    proxy = HierarchyFilterModel()
    proxy.setSourceModel(model)
    root = proxy.index(0, 0)
    proxy.setFilterText("MASK")
    assert names(proxy, root) == ["labels"]
    assert names(proxy, proxy.index(0, 0, root)) == ["mask"]
    proxy.setFilterText("*ee*")  # wildcard: the whole name must match ("deeper")
    assert names(proxy, root) == ["nested"]
    proxy.setFilterText("")
    assert names(proxy, root) == ["empty", "labels", "nested", "raw"]


def test_natural_sort(tmp_path: Path, registry: Any) -> None:
    import zarr

    group = zarr.open_group(str(tmp_path / "n.zarr"), mode="w")
    for name in ("a10", "a2", "B1", "a1"):
        group.create_group(name)
    model = make_model(tmp_path / "n.zarr", registry)
    fetch_all(model)
    proxy = HierarchyFilterModel()
    proxy.setSourceModel(model)
    root = proxy.index(0, 0)
    assert names(proxy, root) == ["a1", "a2", "a10", "B1"]  # the listing's own order
    proxy.sort(0, Qt.SortOrder.DescendingOrder)
    assert names(proxy, root) == ["B1", "a10", "a2", "a1"]


def test_consolidated_matches_not_loaded_yet(qtbot: Any, tmp_path: Path, zarr_stores: Any, registry: Any) -> None:
    store = tmp_path / "c.zarr"
    zarr_stores.sample(str(store), 2, consolidate=True)
    model = make_model(store, registry)
    proxy = HierarchyFilterModel()
    proxy.setSourceModel(model)
    model.fetchMore(root_index(model))
    with qtbot.waitSignal(proxy.unloadedMatchesChanged, timeout=2_000):
        proxy.setFilterText("val")
    assert proxy.unloadedMatches() == ["/nested/deeper/values"]
    assert names(proxy, proxy.index(0, 0)) == [], "nothing loaded matches yet"
    with qtbot.waitSignal(proxy.unloadedMatchesChanged, timeout=2_000):
        model.revealPath("/nested/deeper/values")
    assert proxy.unloadedMatches() == []
    assert names(proxy, proxy.index(0, 0)) == ["nested"]


def test_the_conventions_cell_tooltip_lists_every_badge(demo_root: Path, registry: Any) -> None:
    model = make_model(demo_root, registry)
    fetch_all(model)
    root = root_index(model)
    cells = child(model, root, "cells.ome.zarr")
    cell = model.index(cells.row(), Model.CONVENTIONS_COLUMN, root)
    lines = cell.data(Qt.ItemDataRole.ToolTipRole).splitlines()
    badges = [text for text, _colour in cell.data(Model.BadgesRole)]
    assert [line.split(":", 1)[0] for line in lines] == badges, "a badge cut to … can be read in the tooltip"
    assert lines[1] == "OME 0.5: ome-ngff 0.5: image, omero"


def test_an_unconsolidated_dataset_is_badged_once_its_children_are_listed(tmp_path: Path, registry: Any) -> None:
    """No group document says 'xarray dataset' without consolidated metadata: its first page of
    children does, and the group's row follows (kind, label, badge)."""
    import zarr

    path = tmp_path / "plain.zarr"
    root = zarr.open_group(str(path), mode="w", zarr_format=3)
    model_group = root.create_group("model")
    model_group.create_array("temp", shape=(2, 4), dtype="f4", dimension_names=["time", "lat"])
    model_group.create_array("lat", shape=(4,), dtype="f8", dimension_names=["lat"])
    model = make_model(path, registry)
    root_row = root_index(model)
    model.fetchMore(root_row)
    row = child(model, root_row, "model")
    assert row.data(Model.KindRole) == "group"
    model.fetchMore(row)
    row = child(model, root_row, "model")
    assert row.data(Model.KindRole) == "dataset"
    assert model.index(row.row(), 1, root_row).data() == "xarray dataset"
    badges = model.index(row.row(), Model.CONVENTIONS_COLUMN, root_row).data(Model.BadgesRole)
    assert [text for text, _colour in badges] == ["v3", "xarray"]
    assert root_row.data(Model.KindRole) == "group"  # a group of groups is no dataset


def test_names_that_would_pass_for_others_are_shown_visibly(tmp_path: Path, registry: Any) -> None:
    """A right-to-left override made '\\u202eexe.jpg' read as 'gpj.exe'; a zero-width space and
    leading spaces were invisible (the command line escaped them already)."""
    import zarr

    group = zarr.open_group(tmp_path / "n.zarr", mode="w")
    for name in ("\u202eRLO_gpj.exe", "zero\u200bwidth", " lead", "tab\there"):
        group.create_array(name, shape=(1,), dtype="u1")
    model = make_model(tmp_path / "n.zarr", registry)
    fetch_all(model)
    shown = set(names(model, root_index(model)))
    assert shown == {"\\u202eRLO_gpj.exe", "zero\\u200bwidth", "\u2423lead", "tab\\x09here"}


def test_a_big_endian_dtype_reads_by_its_name_in_the_tree(tmp_path: Path) -> None:
    """The dtype column showed numpy's '>u2' for a big-endian v2 array, 'uint16' for a little-endian
    one (audit C, 13); the tooltip gives the stored type too."""
    import zarr

    from zarr_browser.qt.tree_model import describe_row

    group = zarr.open_group(str(tmp_path / "e.zarr"), mode="w", zarr_format=2)
    group.create_array("big", shape=(2,), dtype=">u2")
    group.create_array("little", shape=(2,), dtype="<u2")
    group.create_array("text", shape=(2,), dtype="<U3")
    hierarchy = Hierarchy.open(str(tmp_path / "e.zarr"))
    rows = {name: describe_row(hierarchy.node(f"/{name}"), None) for name in ("big", "little", "text")}
    assert rows["big"].dtype == rows["little"].dtype == "uint16"
    assert "dtype uint16 (>u2)" in rows["big"].tooltip and "dtype uint16\n" in rows["little"].tooltip
    assert rows["text"].dtype == "<U3"
