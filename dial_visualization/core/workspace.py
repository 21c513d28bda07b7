"""The workspace: the document the tool explains, without Qt.

It holds the model (with the file it came from and that file's SHA-256), the image as
loaded for the model, the class names, the preprocessing (with the reason it was chosen),
which model output is explained, the device, and the parameter values used per method.
Changes are announced through psygnal signals (as napari's ``ViewerModel``), so that the
widget, the app, the command line, the notebook API and the hosts drive one document and a
view only shows it.

Changing the model resets what depended on the old one: the output explained, the
preprocessing (detected anew), class names of another length, the image (to be loaded
again for the new model's input) and the remembered parameter values (a stride that fit a
64x64 model must not come back on a 224x224 one).

Reading files (:meth:`Workspace.read_model`, :meth:`Workspace.read_image`,
:meth:`Workspace.read_labels`) changes nothing and may run on any thread; the ``set_``
methods change the document on the thread that owns it and raise a
:class:`~.errors.DialVisualizationError` (nothing changed) when refused.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from psygnal import Signal

from .context import Context, NodeType, Target
from .errors import MethodNotApplicableError, ParameterError
from .explain import RunRequest, request
from .images import FITS, MAX_SIDE, InputImage, load_image
from .labels import check_labels, load_labels
from .layers import LayerTree
from .models import check_model, file_sha256, load_model
from .preprocessing import Preprocessing, resolve
from .preprocessing_check import PresetAdvice, compare_presets
from .registry import HandlerConfiguration, Method
from .session import RunRecord, Session


class ParameterMemory:
    """The parameter values last used per method, each checked against its declaration."""

    def __init__(self):
        self._values: dict[str, dict[str, Any]] = {}

    def remembered(self, method: Method) -> dict[str, Any]:
        """The values last used for ``method`` (its defaults at first)."""
        return method.resolve_params(self._values.get(method.id))

    def remember(self, method: Method, values: dict[str, Any]) -> dict[str, Any]:
        """Check ``values`` over the remembered ones (ParameterError if one is invalid) and
        keep them; returns every value of the method."""
        resolved = method.resolve_params({**self._values.get(method.id, {}), **values})
        self._values[method.id] = resolved
        return resolved

    def forget(self) -> None:
        self._values.clear()


class Workspace:
    """The document: model, image, labels, preprocessing, output index, device, parameters."""

    #: The model shown (None: cleared).
    model_changed = Signal(object)
    #: The image as loaded for the model (an InputImage), or None.
    image_changed = Signal(object)
    #: The class names (a list), or None.
    labels_changed = Signal(object)
    #: The :class:`~.preprocessing.Preprocessing` of images, with its reason.
    preprocessing_changed = Signal(object)
    #: How an image of another aspect ratio meets the model's input (``images.FITS``).
    fit_changed = Signal(str)
    #: The model output explained.
    output_index_changed = Signal(int)
    #: One line about a change the user did not make (class names dropped, ...).
    noted = Signal(str)

    def __init__(self, registry: HandlerConfiguration):
        self.registry = registry
        self.model = None
        self.model_source = ""
        self.model_sha256 = ""
        self.image: InputImage | None = None
        #: What the image was loaded from (kept while no model is open).
        self.image_source = None
        self.labels: list[str] | None = None
        self.labels_source = ""
        self.preprocessing: Preprocessing = resolve(None)
        self.output_index = 0
        self.device = "auto"
        #: For a model that takes any input size: the longest side of the image it sees.
        self.max_side = MAX_SIDE
        #: How an image of another aspect ratio meets the model's input size (``images.FITS``:
        #: stretch, crop, pad).
        self.fit = "stretch"
        self.parameters = ParameterMemory()
        self._tree: LayerTree | None = None
        self._warming: threading.Event | None = None  # set: stop the warm-up under way
        self._warm_up_thread: threading.Thread | None = None

    # ------------------------------------------------------------------ reading files

    @staticmethod
    def read_model(path, trusted: bool = False) -> tuple[Any, str]:
        """(model, SHA-256 of its file); see ``core.models.load_model``."""
        return load_model(str(path), trusted=trusted), file_sha256(str(path))

    def read_image(self, source) -> InputImage:
        """``source`` (path, array, Pillow image) loaded for the model and preprocessing."""
        if self.model is None:
            raise MethodNotApplicableError("open a model first")
        return load_image(source, self.model, self.preprocessing, self.max_side, self.fit)

    @staticmethod
    def read_labels(path) -> list[str]:
        return load_labels(path)

    # ------------------------------------------------------------------ changes

    def set_model(self, model, source: str = "", sha256: str = "") -> None:
        """Explain ``model`` (None clears), read from ``source`` with that ``sha256``."""
        tree = None
        if model is not None:
            check_model(model)
            try:
                tree = LayerTree.of(model)
            except Exception as error:  # an exotic model the inspector cannot read
                raise MethodNotApplicableError(f"{type(error).__name__}: {error}") from None
        self.model, self._tree = model, tree
        self.model_source = str(source) if model is not None else ""
        self.model_sha256 = sha256 if model is not None else ""
        self.output_index = 0
        self.parameters.forget()
        self.stop_warm_up()
        self.image = None
        if model is not None:
            self._drop_labels_of_another_model()
            self.preprocessing = resolve(None, model)
        self.preprocessing_changed.emit(self.preprocessing)
        self.image_changed.emit(None)
        self.model_changed.emit(model)  # last: a view may load the image again for it

    def set_image(self, image: InputImage | None, source=None) -> None:
        """The image as :meth:`read_image` loaded it from ``source`` (None clears)."""
        self.image = image
        self.image_source = source if image is not None or source is not None else None
        self.image_changed.emit(image)

    def set_preprocessing(self, choice) -> Preprocessing:
        """A preset name, a function of float32 pixels in [0, 255], or None to detect it
        again; the image must then be read again (:meth:`read_image`)."""
        self.preprocessing = resolve(choice, self.model) if choice is None else resolve(choice)
        self.preprocessing_changed.emit(self.preprocessing)
        return self.preprocessing

    def set_fit(self, fit: str) -> None:
        """How an image of another aspect ratio meets the model's input size (stretch, crop,
        pad); the image must then be read again (:meth:`read_image`)."""
        if fit not in FITS:
            raise ParameterError(f"fit is one of {', '.join(FITS)}, not {fit!r}")
        self.fit = fit
        self.fit_changed.emit(fit)

    def set_labels(self, labels: list[str] | None, source: str = "") -> None:
        """Class names (None removes them); a count other than the class count is refused."""
        if labels is not None and self.model is not None:
            check_labels(labels, self.class_count(), Path(source).name if source else "")
        self.labels = list(labels) if labels else None
        self.labels_source = str(source) if labels else ""
        self.labels_changed.emit(self.labels)

    def set_output_index(self, index: int) -> None:
        """Explain output ``index`` of a multi-output model."""
        if self.model is None or not 0 <= index < len(self.model.outputs):
            raise MethodNotApplicableError(f"the model has no output {index}")
        if index != self.output_index:
            self.output_index = index
            self._drop_labels_of_another_model()
            self.output_index_changed.emit(index)

    def set_device(self, device: str) -> None:
        self.device = device or "auto"

    # ------------------------------------------------------------------ what it holds

    @property
    def tree(self) -> LayerTree | None:
        """The model's layers (None without a model)."""
        return self._tree

    def class_count(self) -> int:
        """How many classes the explained output scores (0 without a model)."""
        if self.model is None:
            return 0
        return self.registry.handler(NodeType.PREDICTION).count(self.model, None,
                                                                self.output_index)

    def context(self) -> Context:
        """What a method runs on, as the document holds it now."""
        return Context(model=self.model, image=self.image, output_index=self.output_index,
                       labels=list(self.labels) if self.labels else None, device=self.device)

    def request(self, method_id: str, target: Target,
                params: dict[str, Any] | None = None) -> RunRequest:
        """The checked run of ``method_id`` on ``target``: ``params`` over the declared
        defaults, or (None) the values remembered for the method."""
        if self.model is None:
            raise MethodNotApplicableError("open a model first")
        method = self.registry.get(method_id)
        values = self.parameters.remembered(method) if params is None else params
        return request(method_id, self.model, target, values, output_index=self.output_index,
                       registry=self.registry)

    def request_record(self, record: RunRecord) -> RunRequest:
        """A saved or dropped run checked on the model (no method: the node type's default;
        no parameters: the values remembered for the method)."""
        method_id = record.method or self.registry.default_method(record.target.node_type).id
        return self.request(method_id, record.target, record.params or None)

    def warm_up_in_background(self) -> threading.Thread | None:
        """Trace the model's shared functions for the image's size on a thread of its own
        (``core.warm_up``), so that the first tile of each method costs what later ones do;
        a new model stops it. None without a model and image."""
        if self.model is None or self.image is None:
            return None
        from .warm_up import warm_up

        self.stop_warm_up()
        stop = self._warming = threading.Event()
        model, size = self.model, self.image.array.shape
        output_index, device = self.output_index, self.device

        def work():
            try:
                warm_up(model, size, output_index=output_index, device=device,
                        should_stop=stop.is_set)
            except Exception:  # cancelled, or nothing to warm: the runs trace (and report) as before
                pass

        thread = threading.Thread(target=work, name="dial-visualization warm-up", daemon=True)
        thread.start()
        self._warm_up_thread = thread
        return thread

    def stop_warm_up(self, wait_s: float = 0.0) -> None:
        """Ask the warm-up under way to stop (at its next step), and wait up to ``wait_s``
        for it to end (before the process exits: TensorFlow must not be torn down under
        it)."""
        if self._warming is not None:
            self._warming.set()
            self._warming = None
        if wait_s and self._warm_up_thread is not None:
            self._warm_up_thread.join(wait_s)

    def check_preprocessing(self) -> PresetAdvice:
        """Compare the presets on the image (one forward pass each: run it off the GUI
        thread); the advice says when the chosen one looks wrong."""
        image = self.image
        if image is None:
            raise MethodNotApplicableError("load an image first")
        return compare_presets(self.model, image.resized, self.preprocessing,
                               output_index=self.output_index, labels=self.labels,
                               device=self.device)

    def session(self, runs: list[RunRecord]) -> Session:
        """The document's files and choices, with ``runs``."""
        source = self.image_source
        image_path = str(source) if isinstance(source, (str, Path)) and source else None
        return Session(model_path=self.model_source, image_path=image_path,
                       preprocessing=self.preprocessing.name,
                       preprocessing_reason=self.preprocessing.reason, fit=self.fit,
                       labels_path=self.labels_source or None,
                       output_index=self.output_index, runs=list(runs))

    def _drop_labels_of_another_model(self) -> None:
        """Class names that do not fit the class count belong to another model."""
        if self.labels and len(self.labels) != self.class_count():
            dropped = len(self.labels)
            self.set_labels(None)
            self.noted.emit(f"class names dropped: {dropped} names, but the model's output "
                            f"scores {self.class_count()} classes")

