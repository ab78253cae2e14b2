"""The reference receivers: the receiving side of Laboratoriesvarportalen and MiBa (DESIGN §8).

`labgw receiver --as lsp|miba` (and `start_receiver` for tests and the demo) runs one on HTTPS:
signature and trust checks, payload validation, dedupe on message id, storage, receipts.
"""

from gateway.receiver.app import RunningReceiver, start_receiver
from gateway.receiver.config import (
    Faults,
    ReceiptMode,
    ReceiverConfig,
    load_receiver_config,
)

__all__ = [
    "Faults",
    "ReceiptMode",
    "ReceiverConfig",
    "RunningReceiver",
    "load_receiver_config",
    "start_receiver",
]
