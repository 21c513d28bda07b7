"""The Qt-free core: models, images, inspection, the method registry and the methods."""
