"""Stores the editing tests share, written with zarr-python."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import zarr


def ome_image(path: Path, version: str = "0.5") -> Path:
    """A 2-level OME-NGFF image (c, y, x) with omero channels, written with zarr-python."""
    zarr_format = 3 if version == "0.5" else 2
    group = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    datasets = []
    for k in range(2):
        f = 2**k
        datasets.append({"path": str(k), "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, 0.5 * f, 0.5 * f]},
            {"type": "translation", "translation": [0.0, 0.25 * (f - 1), 0.25 * (f - 1)]}]})
        kwargs: dict[str, Any] = {"dimension_names": ("c", "y", "x")} if zarr_format == 3 else {}
        array = group.create_array(str(k), shape=(2, 32 // f, 32 // f), chunks=(1, 32 // f, 32 // f), dtype="u2",
                                   **kwargs)
        array[:] = np.arange(2 * (32 // f) ** 2, dtype="u2").reshape(2, 32 // f, 32 // f)
    ms: dict[str, Any] = {"name": "img", "datasets": datasets, "axes": [
        {"name": "c", "type": "channel"}, {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"}]}
    omero = {"channels": [
        {"label": "a", "color": "FF0000", "active": True, "window": {"min": 0, "max": 2047, "start": 0, "end": 100}},
        {"label": "b", "color": "00FF00", "active": True, "window": {"min": 0, "max": 2047, "start": 0, "end": 100}},
    ]}
    if version == "0.5":
        group.attrs["ome"] = {"version": "0.5", "multiscales": [ms], "omero": omero}
    else:
        ms["version"] = version
        group.attrs.update({"multiscales": [ms], "omero": omero})
    return path


def race_before_write(monkeypatch: Any, key: str, other_writer: Any) -> list[str]:
    """Make *other_writer()* run once, just before a save writes the document *key* (another
    program saving between a save's check and its write).  Returns the keys it ran before."""
    from zarr_browser.core.editing.save import LocalBackend

    write = LocalBackend.write
    raced: list[str] = []

    def racing(self: LocalBackend, written_key: str, data: bytes, expected: Any) -> Any:
        if written_key == key and not raced:
            raced.append(written_key)
            other_writer()
        return write(self, written_key, data, expected)

    monkeypatch.setattr(LocalBackend, "write", racing)
    return raced


# -- NCZarr written and read by the netCDF4 wheel's libnetcdf 4.10.1 (in subprocesses: netCDF-C has been
# seen to crash) ------------------------------------------------------------------------------------

_NETCDF4_WRITER = textwrap.dedent("""\
    import sys
    import netCDF4
    import numpy as np
    ds = netCDF4.Dataset(f"file://{sys.argv[1]}#mode=nczarr,file", "w")
    ds.createDimension("time", None)
    ds.createDimension("x", 3)
    t = ds.createVariable("temp", "f4", ("time", "x"))
    t.units = "K"
    t[0:2, :] = np.arange(1, 7).reshape(2, 3)
    ds.createVariable("x", "f8", ("x",))[:] = [10, 20, 30]
    g = ds.createGroup("sub")
    g.createDimension("z", 2)
    g.createVariable("w", "i2", ("z", "x"))[:] = np.arange(1, 7).reshape(2, 3)
    ds.close()
""")

_NETCDF4_READER = textwrap.dedent("""\
    import json, sys
    import netCDF4
    ds = netCDF4.Dataset(f"file://{sys.argv[1]}#mode=nczarr,file")
    out = {"dims": {n: [len(d), d.isunlimited()] for n, d in ds.dimensions.items()}, "vars": {}}
    for group in (ds, *ds.groups.values()):
        for name, var in group.variables.items():
            out["vars"][f"{group.path.rstrip('/')}/{name}"] = [list(var.dimensions), var[:].tolist()]
    print(json.dumps(out))
""")


def netcdf4_nczarr(store: Path, *, consolidated: bool = False) -> Path:
    """NCZarr generation c (everything in .zattrs): ``temp(time, x)`` (time unlimited), ``x(x)`` and
    ``sub/w(z, x)``, written by libnetcdf 4.10.1 (``mode=nczarr,file``, with ``consolidated``: a
    ``.zmetadata`` too)."""
    writer = _NETCDF4_WRITER
    if consolidated:
        writer = writer.replace("#mode=nczarr,file", "#mode=nczarr,file,consolidated")
    result = subprocess.run([sys.executable, "-c", writer, str(store)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return store


def read_with_netcdf_410(store: Path) -> dict[str, Any]:
    """What libnetcdf 4.10.1 reads of an NCZarr store: ``{"dims": {name: [size, unlimited]}, "vars":
    {path: [dimensions, values decoded (masked and scaled)]}}``."""
    result = subprocess.run([sys.executable, "-c", _NETCDF4_READER, str(store)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))
