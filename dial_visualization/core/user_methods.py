"""Methods from a user's own ``.py`` file, loaded at run time (the GUI's "Load methods...").

The file is imported as a module of its own; every module-level :class:`Method` in it
(made with the :func:`~dial_visualization.core.registry.method` decorator or
``Method(...)``) is registered, all of them or, on any error, none.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import sys
from pathlib import Path
from typing import Iterable

from .errors import RegistryError
from .registry import Method, HandlerConfiguration

MODULE_PREFIX = "dial_visualization_user_methods"
_module_numbers = itertools.count()


def load_methods_file(path: str | Path, registry: HandlerConfiguration) -> list[Method]:
    """Import ``path`` and register its methods in ``registry``.

    Raises :class:`RegistryError` when the file is missing or not Python, raises while it is
    imported, defines no method, or defines an id that is already registered; nothing is
    registered then.
    """
    module = _import_file(Path(path))
    methods = _module_methods(module, registry)
    if not methods:
        sys.modules.pop(module.__name__, None)
        raise RegistryError(f"{Path(path).name} defines no method (no module-level Method;"
                            " decorate a run function with @method(...))")
    try:
        _register_all(methods, registry)
    except RegistryError:
        sys.modules.pop(module.__name__, None)
        raise
    return methods


def unload_methods(methods: Iterable[Method], registry: HandlerConfiguration) -> None:
    """Remove ``methods`` (as :func:`load_methods_file` returned them) from ``registry``.

    An id now held by another method object is left alone.
    """
    registered = registry.all()
    for method in methods:
        if registered.get(method.id) is method:
            registry.unregister(method.id)
        module_name = getattr(method.run, "__module__", "") or ""
        if module_name.startswith(MODULE_PREFIX):
            sys.modules.pop(module_name, None)


def _import_file(path: Path):
    if not path.is_file():
        raise RegistryError(f"no such methods file: {path}")
    if path.suffix != ".py":
        raise RegistryError(f"{path.name} is not a Python file (expected a .py file)")
    stem = re.sub(r"\W", "_", path.stem)
    module_name = f"{MODULE_PREFIX}_{next(_module_numbers)}_{stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:  # user code: report any failure, keep running
        sys.modules.pop(module_name, None)
        raise RegistryError(
            f"{path.name} raised {type(error).__name__} while being imported: {error}") from error
    return module


def _module_methods(module, registry: HandlerConfiguration) -> list[Method]:
    """The module's Method objects, minus those it imported that are registered already."""
    registered = registry.all()
    found: dict[int, Method] = {}
    for value in vars(module).values():
        if isinstance(value, Method) and registered.get(value.id) is not value:
            found[id(value)] = value
    return list(found.values())


def _register_all(methods: list[Method], registry: HandlerConfiguration) -> None:
    ids = [a.id for a in methods]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise RegistryError(f"the file defines the id {', '.join(repeated)} more than once")
    taken = sorted(set(ids) & set(registry.all()))
    if taken:
        raise RegistryError(f"a method with id {', '.join(map(repr, taken))} is already "
                            "registered (unload it first, or rename the new one)")
    undo = []
    try:
        for method in methods:
            undo.append(registry.register(method))
    except RegistryError:  # registered by another thread meanwhile: take ours back
        for unregister in undo:
            unregister()
        raise
