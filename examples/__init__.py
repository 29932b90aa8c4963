"""The example scenarios and forecasts shipped with busyhour, as package data.

``path(name)`` gives a real file path to one of them, from a source checkout
(``examples/``) or an installed wheel (``site-packages/busyhour/examples/``)
alike::

    from busyhour.examples import path
    path("busy_hour.toml")        # scenario for ``busyhour demo`` / ``simulate``
    path("forecast_weekday.csv")  # forecast for ``busyhour staff``
"""

from __future__ import annotations

import pathlib
from importlib import resources


def names() -> list[str]:
    """The example files shipped (``busy_hour.toml``, ``forecast_weekday.csv``, …), sorted."""
    return sorted(p.name for p in resources.files(__name__).iterdir()
                  if p.is_file() and p.name.endswith((".toml", ".csv")))


def path(name: str) -> pathlib.Path:
    """The path of the example file ``name``; ``FileNotFoundError`` naming the choices if there is none.

    The package is always installed as plain files (never zipped), so the
    path stays valid after the call."""
    if name not in names():
        raise FileNotFoundError(f"no example named {name!r}; the examples are: {', '.join(names())}")
    return pathlib.Path(str(resources.files(__name__).joinpath(name)))


__all__ = ["names", "path"]
