"""The request parts of a training job: one module per section of the CreateTrainingJob API,
each checking, granting and rendering its own members (``context`` has the protocol)."""

from .build import build
from .context import JobContext, RequestPart, assemble

__all__ = ["JobContext", "RequestPart", "assemble", "build"]
