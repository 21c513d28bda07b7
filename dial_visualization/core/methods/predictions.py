"""The model's class scores for the image, sorted, with class names when given."""

import numpy as np

from ..registry import NodeType, Parameter, method
from ..result import Result


@method(
    id="predictions", name="Predictions", node_types={NodeType.PREDICTION},
    description="The output scores (probabilities for a softmax model), top-k sorted.",
    parameters=(Parameter("top_k", "int", 10, "how many classes to show", 1, 1000),),
)
def predictions(context, target, params, progress, should_stop):
    scores = context.outputs()
    progress(1.0)
    best = int(np.argmax(scores))
    name = context.labels[best] if context.labels and best < len(context.labels) else str(best)
    return Result(title=f"top {name} ({scores[best]:.3f})",
                  kind="scores", data=scores, labels=context.labels,
                  info={"top_k": min(params["top_k"], len(scores)),
                        "ranking": np.argsort(-scores, kind="stable").tolist()})
