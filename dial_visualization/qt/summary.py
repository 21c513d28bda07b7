"""The summary tab: what the workspace holds (model, image, preprocessing, labels, output,
device), shown in the widgets of ``ui/ConvVisualizer.ui``; it follows the workspace's
signals and sends the user's choices back to the widget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from qtpy import QtCore, QtWidgets

from ..core.images import InputImage
from ..core.preprocessing import PRESETS, Preprocessing
from ..core.workspace import Workspace
from .pixmaps import pixmap_from_array

#: The previews' side: as wide as their column and as tall as the window leaves them (no
#: taller than wide), within [IMAGE_VIEW_MIN, IMAGE_VIEW_MAX]; a short window shrinks them
#: rather than growing its own minimum height. What still does not fit (a long warning in a
#: short window) scrolls in the image column (``image_scroll`` in the ``.ui``).
IMAGE_VIEW_MIN = 64
IMAGE_VIEW_MAX = 480
#: The choices of how an image meets the model's aspect ratio (``core.images.FITS``).
FIT_CHOICES = {"stretch": "stretch", "crop": "centre crop", "pad": "pad"}
_CUSTOM = "custom"


class SummaryView:
    """Binds the summary widgets of ``form`` (the loaded ``.ui``) to ``workspace``."""

    def __init__(self, form, workspace: Workspace):
        self.form = form
        self.workspace = workspace
        for name in PRESETS:
            form.preprocessing_combo.addItem(name, name)
        form.fit_combo = QtWidgets.QComboBox()  # beside the preprocessing, in its form
        for name, text in FIT_CHOICES.items():
            form.fit_combo.addItem(text, name)
        form.fit_combo.setToolTip("how an image of another aspect ratio than the model's "
                                  "input meets it: stretched, its centre cropped, or padded "
                                  "with black")
        form.fit_label = QtWidgets.QLabel("Fit")
        form.image_form.insertRow(1, form.fit_label, form.fit_combo)
        form.preprocessing_warning_label.hide()
        from ..core.tf_ops import gpu_available

        form.device_combo.addItem("Automatic", "auto")
        if gpu_available():
            form.device_combo.addItem("GPU", "gpu")
            form.device_combo.addItem("CPU", "cpu")
        else:
            form.device_label.hide()
            form.device_combo.hide()
        self._previews = {}  # view: (pixels, smooth), drawn at the view's size
        for view in (form.image_original_view, form.image_model_view):
            view.setMinimumSize(IMAGE_VIEW_MIN + 4, IMAGE_VIEW_MIN + 4)
            view.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                               QtWidgets.QSizePolicy.Policy.Expanding)
            view.installEventFilter(_Resized(view, self._fit_preview))
        # The height left goes to the previews (up to square), then below the texts under them.
        form.image_layout.setStretchFactor(form.image_views, 1)
        form.image_views.setRowStretch(1, 1)
        for caption in (form.image_original_caption, form.image_model_caption):
            caption.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred,
                                  QtWidgets.QSizePolicy.Policy.Fixed)
        self.show_preprocessing(workspace.preprocessing)
        workspace.model_changed.connect(self.show_model)
        workspace.image_changed.connect(self.show_image)
        workspace.preprocessing_changed.connect(self.show_preprocessing)
        workspace.fit_changed.connect(
            lambda fit: form.fit_combo.setCurrentIndex(form.fit_combo.findData(fit)))
        workspace.labels_changed.connect(self.show_labels)
        workspace.output_index_changed.connect(
            lambda index: form.output_combo.setCurrentIndex(index))

    def chosen_preset(self, position: int) -> str | None:
        """The preset at ``position`` of the combo when it differs from the current one."""
        name = self.form.preprocessing_combo.itemData(position)
        return None if name in (_CUSTOM, self.workspace.preprocessing.name) else name

    def show_model(self, model) -> None:
        form, workspace = self.form, self.workspace
        form.output_combo.clear()
        outputs = model.outputs if model is not None else []
        for position, tensor in enumerate(outputs):
            layer = tensor._keras_history[0].name
            form.output_combo.addItem(f"{position}: {layer} {tuple(tensor.shape)}", position)
        form.output_label.setVisible(len(outputs) > 1)
        form.output_combo.setVisible(len(outputs) > 1)
        if model is None:
            form.model_path_label.setText("No model loaded")
            form.model_path_label.setToolTip("")
            form.model_checksum_label.setText("")
            return
        source = workspace.model_source
        form.model_path_label.setText(Path(source).name if source else model.name)
        form.model_path_label.setToolTip(source or model.name)
        form.model_checksum_label.setText(f"SHA-256 {workspace.model_sha256}"
                                          if workspace.model_sha256
                                          else "in memory: no file to check")

    def show_image(self, image: InputImage | None) -> None:
        form = self.form
        form.preprocessing_warning_label.hide()
        if image is None:
            self._previews = {}
            for view in (form.image_original_view, form.image_model_view):
                view.clear()
            form.image_path_label.setText("No image loaded")
            form.image_info_label.setText("")
            return
        self._previews = {form.image_original_view: (image.original, True),
                          form.image_model_view: (image.resized, False)}
        for view in self._previews:
            self._fit_preview(view)
        form.image_path_label.setText(image.name)
        form.image_path_label.setToolTip(image.source)
        low, high = float(np.min(image.array)), float(np.max(image.array))
        form.image_info_label.setText(
            f"{image.original.shape[1]}×{image.original.shape[0]} as loaded; "
            f"{image.resized.shape[1]}×{image.resized.shape[0]}×{image.resized.shape[2]} "
            f"for the model ({image.size_reason}; fit {FIT_CHOICES[self.workspace.fit]}); "
            f"preprocessing {image.preprocessing} "
            f"({image.preprocessing_reason}): values {low:.3g} to {high:.3g}")

    def _fit_preview(self, view: QtWidgets.QLabel) -> None:
        """The view no taller than it is wide, its image drawn in the square that fits."""
        widest = min(max(view.width() - 4, IMAGE_VIEW_MIN), IMAGE_VIEW_MAX)
        if view.maximumHeight() != widest + 4:
            view.setMaximumHeight(widest + 4)
        side = min(max(min(view.width(), view.height()) - 4, IMAGE_VIEW_MIN), IMAGE_VIEW_MAX)
        if view in self._previews:
            pixels, smooth = self._previews[view]
            view.setPixmap(pixmap_from_array(pixels, side, smooth=smooth))

    def show_preprocessing(self, preprocessing: Preprocessing) -> None:
        """Make ``preprocessing`` current in the combo; its entry says why it was chosen."""
        combo = self.form.preprocessing_combo
        custom = combo.findData(_CUSTOM)
        if preprocessing.name not in PRESETS and custom < 0:
            combo.addItem("", _CUSTOM)
        elif preprocessing.name in PRESETS and custom >= 0:
            combo.removeItem(custom)
        for position in range(combo.count()):
            name = combo.itemData(position)
            current = name == preprocessing.name or (name == _CUSTOM
                                                     and preprocessing.name not in PRESETS)
            text = f"custom: {preprocessing.name}" if name == _CUSTOM else name
            combo.setItemText(position, f"{text} ({preprocessing.reason})" if current else text)
            if current:
                combo.setCurrentIndex(position)
        combo.setToolTip(f"How pixels are scaled before they enter the model: "
                         f"{preprocessing.name}, {preprocessing.reason}")

    def show_labels(self, labels: list[str] | None) -> None:
        if labels:
            source = self.workspace.labels_source
            where = Path(source).name if source else "given"
            self.form.labels_path_label.setText(f"{where} ({len(labels)} classes)")
        else:
            self.form.labels_path_label.setText("No labels")

    def show_warning(self, message: str) -> None:
        self.form.preprocessing_warning_label.setText(message)
        self.form.preprocessing_warning_label.show()


class _Resized(QtCore.QObject):
    """Calls ``then(watched)`` after each resize of the widget it filters."""

    def __init__(self, parent, then):
        super().__init__(parent)
        self._then = then

    def eventFilter(self, watched, event):
        if event.type() == QtCore.QEvent.Type.Resize:
            self._then(watched)
        return False
