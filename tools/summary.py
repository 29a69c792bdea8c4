"""Kept for imports and ``python -m tools.summary``: the summary is ``python -m constructs_lib.summary``."""

import sys

from constructs_lib.summary import JOB_TYPE, main, request_of, summarize

__all__ = ["JOB_TYPE", "main", "request_of", "summarize"]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
