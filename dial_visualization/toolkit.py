"""The toolkit for writing a method of your own (see ``examples/custom_method.py``).

A method is a function ``run(context, target, params, progress, should_stop) -> Result``
declared with :func:`method`. Its id and name are stamped on every result it gives (so the
title it sets says only what follows the name), its parameters are checked against the
declaration before it runs, and its node (``target``) has been checked against the model.

* :func:`resolve_objective`: the input batch, and what to differentiate: the class score
  (a Prediction node; its class resolved to the image's top class when none is picked) or a
  layer's channel (an Output node; :data:`ALL_CHANNELS` means the mean of all channels);
* :func:`heatmap_result`: a map over the input as a :class:`Result` (reduced over the
  colour channels as your paper says, with the per-channel values kept);
* :func:`batch_size_parameter`: the ``batch_size`` parameter of a batched method;
* :func:`input_gradient_function`: the traced gradient of that objective with respect to the
  input, shared with the built-in methods: ``f(x, index) -> (scores, gradients, outputs)``,
  the model's outputs computed in the same pass.

Register it with ``HandlerConfiguration.default().register(run)`` (what ``dv.explain`` and
the command line use), with an entry point in the group ``dial_visualization.methods``, or
load its file in the app (*Methods > Load methods file...*). A node type of your own comes
with a :class:`NodeHandler` subclass (``registry.add_handler``).
"""

from .core.attribution import (ALL_CHANNELS, CHANNEL_REDUCTIONS, batch_size_parameter,
                               heatmap_result, resolve_objective)
from .core.context import Context, NodeType, Target
from .core.errors import Cancelled, MethodNotApplicableError
from .core.handlers import NodeHandler
from .core.registry import HandlerConfiguration, Method, Parameter, method
from .core.result import Result
from .core.tf_ops import input_gradient_function

__all__ = ["ALL_CHANNELS", "CHANNEL_REDUCTIONS", "Cancelled", "Context", "HandlerConfiguration",
           "Method", "MethodNotApplicableError", "NodeHandler", "NodeType", "Parameter",
           "Result", "Target", "batch_size_parameter", "heatmap_result",
           "input_gradient_function", "method", "resolve_objective"]
