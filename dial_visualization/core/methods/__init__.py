"""Built-in algorithms, one module each; every module-level :class:`Algorithm` is registered."""

import importlib
import pkgutil

from ..registry import Algorithm

# How the GUI and ``methods`` list them; an algorithm not named here comes last.
_ORDER = (
    "predictions", "weights", "activations", "activation-maximization", "saliency",
    "guided-backprop", "integrated-gradients", "smoothgrad", "grad-cam", "grad-cam-plus-plus",
    "score-cam", "occlusion",
)


def builtin_algorithms() -> list[Algorithm]:
    found = []
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        found += [value for value in vars(module).values()
                  if isinstance(value, Algorithm) and value.run.__module__ == module.__name__]
    rank = {algorithm_id: i for i, algorithm_id in enumerate(_ORDER)}
    return sorted(found, key=lambda a: (rank.get(a.id, len(rank)), a.id))
