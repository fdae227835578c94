"""A scripted Tamiyo policy for the distributed tests: one germination, early."""

from workers.engine.policy.base import Decision, PolicyInputs


class GrowOnce:
    def __init__(self, at_step: int = 20) -> None:
        self.at_step = at_step
        self.done = False

    def decide(self, inputs: PolicyInputs) -> Decision:
        free = [s for s in inputs.slots if s.free]
        if inputs.step < self.at_step or self.done or not free:
            return Decision(reason="scripted: wait")
        self.done = True
        return Decision(
            "germinate",
            slot=free[-1].name,
            blueprint="residual_mlp",
            reason="scripted growth",
        )


def factory() -> GrowOnce:
    return GrowOnce()
