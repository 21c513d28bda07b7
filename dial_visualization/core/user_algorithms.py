"""Algorithms from a user's own ``.py`` file, loaded at run time (the GUI's "Load algorithms...").

The file is imported as a module of its own; every module-level :class:`Algorithm` in it
(made with the :func:`~dial_visualization.core.registry.algorithm` decorator or
``Algorithm(...)``) is registered, all of them or, on any error, none.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import sys
from pathlib import Path
from typing import Iterable

from .errors import RegistryError
from .registry import Algorithm, HandlerConfiguration

MODULE_PREFIX = "dial_visualization_user_algorithms"
_module_numbers = itertools.count()


def load_algorithms_file(path: str | Path, registry: HandlerConfiguration | None = None
                         ) -> list[Algorithm]:
    """Import ``path`` and register its algorithms in ``registry`` (default: the process-wide one).

    Raises :class:`RegistryError` when the file is missing or not Python, raises while it is
    imported, defines no algorithm, or defines an id that is already registered; nothing is
    registered then.
    """
    registry = registry or HandlerConfiguration.default()
    module = _import_file(Path(path))
    algorithms = _module_algorithms(module, registry)
    if not algorithms:
        sys.modules.pop(module.__name__, None)
        raise RegistryError(f"{Path(path).name} defines no algorithm (no module-level Algorithm;"
                            " decorate a run function with @algorithm(...))")
    try:
        _register_all(algorithms, registry)
    except RegistryError:
        sys.modules.pop(module.__name__, None)
        raise
    return algorithms


def unload_algorithms(algorithms: Iterable[Algorithm],
                      registry: HandlerConfiguration | None = None) -> None:
    """Remove ``algorithms`` (as :func:`load_algorithms_file` returned them) from ``registry``.

    An id now held by another algorithm object is left alone.
    """
    registry = registry or HandlerConfiguration.default()
    registered = registry.all()
    for algorithm in algorithms:
        if registered.get(algorithm.id) is algorithm:
            registry.unregister(algorithm.id)
        module_name = getattr(algorithm.run, "__module__", "") or ""
        if module_name.startswith(MODULE_PREFIX):
            sys.modules.pop(module_name, None)


def _import_file(path: Path):
    if not path.is_file():
        raise RegistryError(f"no such algorithms file: {path}")
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


def _module_algorithms(module, registry: HandlerConfiguration) -> list[Algorithm]:
    """The module's Algorithm objects, minus those it imported that are registered already."""
    registered = registry.all()
    found: dict[int, Algorithm] = {}
    for value in vars(module).values():
        if isinstance(value, Algorithm) and registered.get(value.id) is not value:
            found[id(value)] = value
    return list(found.values())


def _register_all(algorithms: list[Algorithm], registry: HandlerConfiguration) -> None:
    ids = [a.id for a in algorithms]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise RegistryError(f"the file defines the id {', '.join(repeated)} more than once")
    taken = sorted(set(ids) & set(registry.all()))
    if taken:
        raise RegistryError(f"an algorithm with id {', '.join(map(repr, taken))} is already "
                            "registered (unload it first, or rename the new one)")
    undo = []
    try:
        for algorithm in algorithms:
            undo.append(registry.register(algorithm))
    except RegistryError:  # registered by another thread meanwhile: take ours back
        for unregister in undo:
            unregister()
        raise
