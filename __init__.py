"""busyhour: contact-center call routing, Erlang staffing and simulation.

The import package ``busyhour`` is this repository's root; its subpackages are
the top-level folders (``busyhour.router`` is ``router/``, and so on), mapped
in ``pyproject.toml``.
"""

__version__ = "0.1.0"
