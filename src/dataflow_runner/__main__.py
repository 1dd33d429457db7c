"""Entry point for ``python -m dataflow_runner``."""

from dataflow_runner.cli.main import main

if __name__ == "__main__":
    main()
