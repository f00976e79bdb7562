"""Every scenario module; importing this package fills benchmarks.registry.SCENARIOS.

Order here is the order of the report. Scenario modules import no implementation at module
level (only their worker-side functions do, through env.lib), so the orchestrator can import them.
"""
from benchmarks.scenarios import pushpull, reqrep, asyncio_reqrep, pubsub, reference, web, websocket, wsstream, bigpipe  # noqa: F401
