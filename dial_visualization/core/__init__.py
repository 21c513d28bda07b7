"""The Qt-free core: models, images, inspection, the algorithm registry and the algorithms."""
