"""make reproduce: python -m actlab.experiments.reproductions [--full] [--workers N] [--only NAME ...]."""
import sys

from actlab.experiments.reproductions import main

if __name__ == "__main__":
    sys.exit(main())
