"""Built-in methods, one module each; every module-level :class:`Method` is registered."""

import importlib
import pkgutil

from ..registry import Method

# How the GUI and ``methods`` list them; a method not named here comes last.
_ORDER = (
    "predictions", "weights", "activations", "activation-maximization", "saliency",
    "guided-backprop", "deconvnet", "gradient-x-input", "integrated-gradients",
    "expected-gradients", "smoothgrad", "grad-cam", "grad-cam-plus-plus", "score-cam",
    "occlusion", "rise", "lime",
)


def builtin_methods() -> list[Method]:
    found = []
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        found += [value for value in vars(module).values()
                  if isinstance(value, Method) and value.run.__module__ == module.__name__]
    rank = {method_id: i for i, method_id in enumerate(_ORDER)}
    return sorted(found, key=lambda a: (rank.get(a.id, len(rank)), a.id))
