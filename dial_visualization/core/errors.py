"""Typed errors with one-line messages, shown as they are by the CLI and the GUI."""


class DialVisualizationError(Exception):
    """Base class: every error the user should read ends up as one of these."""


class ModelLoadError(DialVisualizationError):
    """The file is missing, is not a Keras model, or is corrupt."""


class UnsafeModelError(ModelLoadError):
    """The model needs unsafe deserialisation (e.g. a Lambda layer) and was not trusted."""


class UnsupportedModelError(DialVisualizationError):
    """The model cannot be visualised (e.g. it has no 4-D image input)."""


class ImageLoadError(DialVisualizationError):
    """The file is missing or is not a readable image."""


class LabelsError(DialVisualizationError):
    """Class names that cannot be read, or that do not belong to the model's output."""


class ParameterError(DialVisualizationError):
    """A parameter value is of the wrong type or out of range."""


class RegistryError(DialVisualizationError):
    """A method id is unknown, or registered twice."""


class MethodNotApplicableError(DialVisualizationError):
    """The method cannot handle this model, layer or target."""


class Cancelled(DialVisualizationError):
    """The run was stopped by its ``should_stop`` callback."""
