"""Where a node opened on its own belongs: the store that encloses it (Qt- and napari-free).

A folder or URL inside a zarr hierarchy (a pyramid level, a dataset's variable, a label image)
opened on its own loses what its parents say about it: scales and units, coordinates, the image
it labels.  The napari reader and the browser window open the enclosing store instead and go to
the node.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.store import _through_zip, _zip_chain, local_zip_member
from zarr_browser.errors import ZarrBrowserError

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import ConventionRegistry
    from zarr_browser.core.store import RequestPolicy

__all__ = ["MAX_REMOTE_ASCENT", "enclosing_store", "open_enclosing", "placed_by_parents", "remote_enclosing",
           "zip_member"]


def zip_member(url: str) -> tuple[str, str] | None:
    """``(archive, member path)`` when *url* names a node inside a zip archive, else None.

    Three spellings are understood: fsspec's chain ``zip://inner/path::ARCHIVE`` (what Copy URL
    gives for a member), a local path through the archive (``/data/a.zip/inner/path``) and a URL
    through an archive on a server (``https://host/a.zip/inner/path``).  No I/O beyond ``stat``.
    """
    chain = _zip_chain(url)
    if chain is not None:
        return chain[0], "/" + chain[1]
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("", "file"):
        inside = local_zip_member(Path(parts.path if scheme == "file" else url).expanduser())
        return (str(inside[0]), "/" + inside[1]) if inside is not None else None
    archive, member = _through_zip(url)
    return (archive, "/" + member) if member else None


def _is_group_folder(folder: Path) -> bool:
    """Whether *folder* holds zarr group metadata (``.zgroup``, or a v3 ``zarr.json`` of a group)."""
    if (folder / ".zgroup").is_file():
        return True
    document = folder / "zarr.json"
    try:
        if not document.is_file() or document.stat().st_size > 1 << 20:
            return False
        import json

        return json.loads(document.read_bytes()).get("node_type") == "group"
    except (OSError, ValueError, AttributeError):
        return False


def enclosing_store(url: str) -> tuple[str, str]:
    """``(store, node path)`` for *url*: a local folder inside a zarr hierarchy is opened from the
    outermost group that encloses it, so that the node keeps what its parents say about it
    (multiscale scales and units of a level, CF coordinates of a variable, the image of a label
    image); a node inside a zip archive is opened from the archive (:func:`zip_member`).
    Anything else is its own store (``"/"``)."""
    member = zip_member(url)
    if member is not None:
        return member
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("", "file"):
        return url, "/"
    folder = Path(parts.path if scheme == "file" else url).expanduser()
    try:
        folder = folder.resolve()
        if not folder.is_dir():
            return url, "/"
        root = folder
        for parent in folder.parents:
            if not _is_group_folder(parent):
                break
            root = parent
    except OSError:
        return url, "/"
    if root == folder:
        return url, "/"
    return str(root), "/" + folder.relative_to(root).as_posix()


MAX_REMOTE_ASCENT = 4
"""Parent URLs of a remote array or label image probed for its enclosing store (one round trip each)."""


def placed_by_parents(node: Any, registry: ConventionRegistry) -> bool:
    """Whether where *node* sits, and in what units, is said by its parents: an array (a level of a
    multiscale image, a variable of a dataset) or a label image."""
    if node.is_array:
        return True
    return any("label-image" in d.roles for d in registry.detect(node))


def remote_enclosing(hierarchy: Hierarchy, registry: ConventionRegistry, *,
                     storage_options: dict[str, Any] | None = None,
                     policy: RequestPolicy | None = None) -> tuple[Hierarchy, str]:
    """The outermost group above a remote array or label image, and the node's path in it.

    Parent URLs are read one after another (a round trip each, at most
    :data:`MAX_REMOTE_ASCENT`) while they hold zarr groups; anything that fails to open ends
    the ascent.  Only arrays and label images pay for this: images, plates and datasets are
    placed by their own metadata.
    """
    url = hierarchy.url.rstrip("/")
    parts = urlsplit(url)
    segments = [p for p in parts.path.split("/") if p]
    best: tuple[Hierarchy, str] | None = None
    for depth in range(1, min(MAX_REMOTE_ASCENT, len(segments) - 1) + 1):
        parent_url = url.rsplit("/", depth)[0]
        try:
            parent = Hierarchy.open(parent_url, storage_options=storage_options or None, policy=policy,
                                    hints=registry.child_hints)
        except ZarrBrowserError:
            break
        if parent.root.kind == "error" or not parent.root.is_group or not parent.root.documents:
            parent.close()
            break
        if best is not None:
            best[0].close()
        best = (parent, "/" + "/".join(segments[-depth:]))
    if best is None:
        return hierarchy, "/"
    enclosing, path = best
    try:
        enclosing.node(path)
    except ZarrBrowserError:
        enclosing.close()
        return hierarchy, "/"
    hierarchy.close()
    return enclosing, path


def open_enclosing(url: str, registry: ConventionRegistry, *, storage_options: dict[str, Any] | None = None,
                   policy: RequestPolicy | None = None) -> tuple[Hierarchy, str]:
    """The store that encloses *url*, opened read-only, and the path of *url*'s node in it.

    A local folder inside a hierarchy opens its outermost group (:func:`enclosing_store`), a node
    inside a zip archive the archive (NodeNotFoundError when it holds no such node); a remote array or label image climbs to its parents (:func:`remote_enclosing`); anything else,
    or a folder that is no node of the store above it after all, is its own store (``"/"``).
    An unreadable root stays as it is (the caller reports it).
    """
    options = storage_options or None
    store, node = enclosing_store(url)
    if zip_member(url) is not None:
        try:
            hierarchy = Hierarchy.open(store, storage_options=options, policy=policy, hints=registry.child_hints)
        except ZarrBrowserError:  # not a zip archive after all (a folder named like one on a server)
            return Hierarchy.open(url, storage_options=options, policy=policy, hints=registry.child_hints), "/"
        try:
            hierarchy.node(node)
        except ZarrBrowserError:
            hierarchy.close()
            raise
        return hierarchy, node
    hierarchy = Hierarchy.open(store, storage_options=options, policy=policy, hints=registry.child_hints)
    if node != "/":
        try:
            hierarchy.node(node)
            return hierarchy, node
        except ZarrBrowserError:  # not a node of the enclosing store after all: the folder alone
            hierarchy.close()
            return Hierarchy.open(url, storage_options=options, policy=policy, hints=registry.child_hints), "/"
    root = hierarchy.root
    if hierarchy.access.is_remote and root.kind != "error" and placed_by_parents(root, registry):
        return remote_enclosing(hierarchy, registry, storage_options=storage_options, policy=policy)
    return hierarchy, "/"
