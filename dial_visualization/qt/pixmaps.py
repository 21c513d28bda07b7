"""Pixels as Qt pixmaps."""

from __future__ import annotations

import numpy as np
from qtpy import QtCore, QtGui


def pixmap_from_array(pixels, size: int, smooth: bool = True) -> QtGui.QPixmap:
    """A QPixmap of uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) pixels, fit into size²."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = np.ascontiguousarray(pixels[..., 0])
    height, width = pixels.shape[:2]
    formats = {1: QtGui.QImage.Format.Format_Grayscale8, 3: QtGui.QImage.Format.Format_RGB888,
               4: QtGui.QImage.Format.Format_RGBA8888}
    data = pixels.tobytes()
    image = QtGui.QImage(data, width, height, pixels.strides[0],
                         formats[1 if pixels.ndim == 2 else pixels.shape[-1]]).copy()
    mode = (QtCore.Qt.TransformationMode.SmoothTransformation if smooth
            else QtCore.Qt.TransformationMode.FastTransformation)
    return QtGui.QPixmap.fromImage(image).scaled(
        size, size, QtCore.Qt.AspectRatioMode.KeepAspectRatio, mode)
