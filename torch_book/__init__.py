"""torch_book: the helper package of the course «Введение в нейронные сети» (PyTorch).

One import in every notebook: ``cfg = torch_book.setup()`` seeds everything, picks the device,
prints the run mode and returns the run's :class:`~torch_book.runtime.Config`.
"""

__version__ = "0.1.0"

from torch_book.modes import Modes, is_fast, is_offline  # noqa: E402
from torch_book.runtime import Config, pick_device, progress, seed_everything, setup  # noqa: E402

__all__ = ["Config", "Modes", "is_fast", "is_offline", "pick_device", "progress", "seed_everything", "setup"]
