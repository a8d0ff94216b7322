"""napari's own floor: the layers our reader gives for a store, with data that costs nothing to read.

A ``.floor`` file is a JSON list of layers — the level shapes, the dtype and the napari keyword
arguments our reader returned for the real store (metadata left out, colormaps by name).  The
reader registered here (plugin :data:`PLUGIN`) turns it back into the same layers, each level a
``numpy.broadcast_to`` of one value: any slice of any level is ready at once, with no I/O and no
decoding.  What ``viewer.open`` of such a file costs is napari's own work for those layers —
progress bar, layer, controls and vispy creation, units, slicing and paints — a floor that no
reader can go under in this napari.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PLUGIN = "zbfloor"  # no installed distribution's name is a prefix of it (npe2 guesses plugins by that)
SUFFIX = ".floor"
VALUE = 1000  # inside every channel's contrast limits: the paint has visible data

_registered: list[Any] = []


def describe(layers: list[tuple[Any, dict[str, Any], str]]) -> list[dict[str, Any]]:
    """The JSON description of napari layer-data tuples (multiscale image layers)."""
    out = []
    for data, kwargs, layer_type in layers:
        levels = data if isinstance(data, list) else [data]
        plain = {key: value for key, value in kwargs.items() if key != "metadata"}
        colormap = plain.get("colormap")
        if colormap is not None and not isinstance(colormap, str):
            plain["colormap"] = colormap.name
        for key, value in plain.items():
            if isinstance(value, tuple):
                plain[key] = list(value)
        out.append({"layer_type": layer_type, "dtype": str(levels[0].dtype),
                    "shapes": [list(level.shape) for level in levels], "kwargs": plain})
    return out


def write(path: Path, layers: list[tuple[Any, dict[str, Any], str]]) -> Path:
    path = path.with_suffix(SUFFIX)
    path.write_text(json.dumps(describe(layers)))
    return path


def read(path: str) -> list[tuple[Any, dict[str, Any], str]]:
    import numpy as np

    out: list[tuple[Any, dict[str, Any], str]] = []
    for layer in json.loads(Path(path).read_text()):
        value = np.array(VALUE, dtype=layer["dtype"])
        levels = [np.broadcast_to(value, tuple(shape)) for shape in layer["shapes"]]
        kwargs = dict(layer["kwargs"])
        out.append((levels if kwargs.get("multiscale") else levels[0], kwargs, layer["layer_type"]))
    return out


def register() -> None:
    """Register the floor reader with napari's plugin manager (once per process)."""
    if _registered:
        return
    from npe2 import DynamicPlugin, PluginManager

    manager = PluginManager.instance()
    plugin = DynamicPlugin(PLUGIN, plugin_manager=manager)

    @plugin.contribute.reader(filename_patterns=[f"*{SUFFIX}"])
    def get_reader(path: Any) -> Any:
        return lambda p: read(p if isinstance(p, str) else p[0])

    # napari reads through npe2 alone.  Every viewer made connects napari's plugins_registered
    # slot once more, and that slot registers the plugin's commands in napari's app model: after
    # a few viewers, the same command twice (a ValueError).
    with manager.events.plugins_registered.blocked():
        plugin.register()
    for reader in plugin.manifest.contributions.readers or []:
        reader._plugin_name = PLUGIN  # npe2 would scan every installed distribution to guess it
    _registered.append(plugin)


def unregister() -> None:
    """Take the floor reader out of napari's plugin manager again (tests)."""
    while _registered:
        _registered.pop().cleanup()
