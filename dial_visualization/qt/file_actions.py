"""Opening files in the widget: models, images and class names, from dialogs, drops and
code. Every file is read off the GUI thread (:func:`.worker.in_background`); what was read
goes to the workspace."""

from __future__ import annotations

from pathlib import Path

from qtpy import QtCore, QtWidgets

from ..core.errors import UnsafeModelError
from ..core.models import MODEL_SUFFIXES
from .worker import in_background

LABEL_SUFFIXES = (".txt", ".json")


class FileActionsMixin:
    """The file actions of :class:`~.widget.ConvVisualizationWidget` (which holds the
    ``workspace`` and reports through :class:`~.messages.MessagesMixin`)."""

    def load_model_file(self, path) -> bool:
        """Load a model file (off the GUI thread); a model that needs unsafe deserialisation
        is loaded only after the user confirms it."""
        path = str(path)
        try:
            try:
                model, digest = self._read_file(self.workspace.read_model, path)
            except UnsafeModelError as error:
                question = f"{error}\n\nLoading it runs code stored in the file. Load it anyway?"
                if not self.ask_confirmation("Untrusted model", question):
                    self.log_message(f"{Path(path).name} not loaded (not confirmed)")
                    self.status_bar.showMessage(f"{Path(path).name} not loaded", 10000)
                    return False
                model, digest = self._read_file(self.workspace.read_model, path, trusted=True)
        except Exception as error:
            self._report_exception(error, f"{Path(path).name}: ", "Cannot open model")
            return False
        return self.set_model(model, path, digest)

    def set_image(self, path_or_array) -> bool:
        """Load an image (path, array or Pillow image) for the model; kept if none is set yet."""
        if self.workspace.model is None:
            self.workspace.image_source = path_or_array
            self.log_message("image kept: it is loaded for the model once one is open")
            return True
        try:
            image = self._read_file(self.workspace.read_image, path_or_array)
        except Exception as error:
            self._report_exception(error, "cannot load the image: ", "Cannot open image")
            return False
        self.workspace.set_image(image, path_or_array)
        original, resized = image.original.shape, image.resized.shape
        self.log_message(f"image {image.name}: {original[1]}×{original[0]} → "
                         f"{resized[1]}×{resized[0]}×{resized[2]}, "
                         f"preprocessing {image.preprocessing} ({image.preprocessing_reason})")
        return True

    def load_labels_file(self, path) -> bool:
        try:
            labels = self._read_file(self.workspace.read_labels, path)
        except Exception as error:
            self._report_exception(error, f"{Path(path).name}: ", "Cannot open labels")
            return False
        return self.set_labels(labels, str(path))

    def open_files(self, paths: list[str]) -> None:
        """Open dropped files: models, labels files, or images, by their suffix."""
        for path in paths:
            suffix = Path(path).suffix.lower()
            if suffix in MODEL_SUFFIXES:
                self.load_model_file(path)
            elif suffix in LABEL_SUFFIXES:
                self.load_labels_file(path)
            else:
                self.set_image(path)


    def open_model_dialog(self) -> None:
        suffixes = " ".join(f"*{s}" for s in MODEL_SUFFIXES)
        self._open_dialog("Open model", f"Keras models ({suffixes})", self.load_model_file)

    def open_image_dialog(self) -> None:
        self._open_dialog("Open image", "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff "
                          "*.webp)", self.set_image)

    def open_labels_dialog(self) -> None:
        self._open_dialog("Open class names", "Labels (*.txt *.json)", self.load_labels_file)

    def export_canvas_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export canvas", "canvas.png",
                                                        "PNG image (*.png)")
        if path:
            self.export_canvas(path)

    def _open_dialog(self, title: str, kinds: str, open_path) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, title, "",
                                                        f"{kinds};;All files (*)")
        if path:
            open_path(path)

    def _read_file(self, function, *args, **kwargs):
        """``function(*args, **kwargs)`` (reading a file) on a thread: the window keeps
        painting meanwhile, and takes no input until it is done."""
        self.setEnabled(False)
        QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
        try:
            return in_background(function, *args, **kwargs)
        finally:
            QtWidgets.QApplication.restoreOverrideCursor()
            self.setEnabled(True)


    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event):
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_files(paths)
