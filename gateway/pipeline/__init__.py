"""Where the layers meet: inbound, outbound, delivery, sending and the clocks.

Every step is a state of a row in the store; each step is idempotent and claimed with a
lease, so a crash at any point is recovered by running again (design.md).
"""

from gateway.pipeline.context import Pipeline
from gateway.pipeline.run import PassSummary, run_once

__all__ = ["PassSummary", "Pipeline", "run_once"]
