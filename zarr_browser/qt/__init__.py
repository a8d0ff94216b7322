"""Qt widgets over the core: tree model, inspector, browser window.  Never imports napari."""
