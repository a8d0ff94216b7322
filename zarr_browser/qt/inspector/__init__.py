"""The inspector: everything about the selected node, in stacked panels.

Interface used by the browser window (kept stable):

* ``Inspector(*, runner, registry, parent=None)``
* ``setNode(hierarchy, node)`` - show *node* of *hierarchy* (I/O goes through *runner*)
* ``clear()``
* signal ``nodeRequested(str)`` - the user asked to go to another node (a plate well, an issue)
"""

from __future__ import annotations

from zarr_browser.qt.inspector.panel import Inspector

__all__ = ["Inspector"]
