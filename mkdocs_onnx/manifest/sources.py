"""Locating a ``package:`` entry's file inside an installed Python package."""

from __future__ import annotations

import importlib.util
import os


def package_file(location: str) -> str:
    """Absolute path of ``PACKAGE/rest/of/path`` inside the installed ``PACKAGE``.

    The package is located, not imported. Raises :class:`LookupError` saying why when
    the package is not installed; whether the file exists is left to the caller.
    """
    top, _, rest = location.replace("\\", "/").partition("/")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise LookupError(f"package '{top}' is not installed")
    roots = list(spec.submodule_search_locations or [])
    if not roots:
        raise LookupError(f"'{top}' is a module, not a package with data files")
    candidates = [os.path.normpath(os.path.join(root, *rest.split("/"))) for root in roots]
    return next((c for c in candidates if os.path.exists(c)), candidates[0])
