"""A warning before runs whose estimated cost is large: the model is timed on the image once
it is loaded (on the worker), each run's model calls are estimated (``core.cost``), and
runs estimated above :attr:`RunCostMixin.cost_warning_seconds` are confirmed first, with
the estimate in the question. With dialogs off they start, and the estimate is logged."""

from __future__ import annotations

from ..core.cost import WARN_SECONDS, describe_seconds, estimated_cost, seconds_per_input
from ..core.explain import RunRequest
from .worker import TaskJob


class RunCostMixin:
    """The cost check of :class:`~.widget.ConvVisualizationWidget`'s runs."""

    #: Runs estimated to take longer than this (seconds, all together) are confirmed first.
    cost_warning_seconds: float = WARN_SECONDS
    _timing: tuple = (None, None)  # (the image timed, seconds per input)

    @property
    def seconds_per_input(self) -> float | None:
        """Seconds of one forward pass of one image like the one shown, on the model shown
        (None: not timed yet)."""
        image, seconds = self._timing
        return seconds if image is not None and image is self.workspace.image else None

    def _time_model(self) -> None:
        """Time the model on the image, on the worker (the estimates use it)."""
        self._timing = (None, None)
        workspace = self.workspace
        image, model = workspace.image, workspace.model
        if image is None or model is None:
            return
        output_index, device = workspace.output_index, workspace.device
        job = TaskJob(lambda progress, should_stop: seconds_per_input(
            model, image.array, output_index, device), "timing the model")
        generation = self._generation
        job.finished.connect(lambda seconds: self._timed(generation, image, seconds))
        job.failed.connect(lambda message: self.log_message(f"timing the model failed: "
                                                            f"{message}"))
        self._queue.submit(job)

    def _timed(self, generation: int, image, seconds: float) -> None:
        if generation == self._generation and image is self.workspace.image:
            self._timing = (image, float(seconds))

    def estimated_seconds(self, requests: list[RunRequest]) -> tuple[float, int] | None:
        """(seconds, images through the model) that ``requests`` are estimated to take
        here; None before the model is timed. Runs of unknown cost count as nothing."""
        per_input, image = self.seconds_per_input, self.workspace.image
        if per_input is None:
            return None
        size = image.array.shape[:2] if image is not None else None
        seconds, calls = 0.0, 0
        for checked in requests:
            try:
                cost = estimated_cost(checked, self.workspace.model, size)
            except Exception:  # noqa: BLE001 - an estimate never stops a run
                cost = None
            if cost is not None:
                seconds += cost.seconds(per_input)
                calls += cost.calls
        return seconds, calls

    def _confirm_cost(self, requests: list[RunRequest]) -> bool:
        """Whether to start ``requests``: yes when they are estimated under the limit,
        else the user's answer (with dialogs off: yes, the estimate logged)."""
        estimate = self.estimated_seconds(requests)
        if estimate is None or estimate[0] <= self.cost_warning_seconds:
            return True
        seconds, calls = estimate
        what = requests[0].describe(self.workspace.labels) if len(requests) == 1 \
            else f"{len(requests)} runs"
        text = (f"{what} will pass about {calls:,} images through the model: "
                f"{describe_seconds(seconds)} here (estimated from the model's time on "
                f"this image).")
        if not self.show_dialogs:
            self.log_message(f"long run: {text}")
            return True
        if self.ask_confirmation("A long run", f"{text}\n\nStart it? (a run can be "
                                 "cancelled while it runs)"):
            self.log_message(f"long run started: {text}")
            return True
        self.say(f"not started: {what} ({describe_seconds(seconds)} estimated)")
        return False
