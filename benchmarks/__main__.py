"""``python -m benchmarks``: the same command as ``bprop bench``, whose options it takes.

The command line lives in ``bprop.cli.bench``, which hands over to ``benchmarks.run``;
this entry point only calls it, so the suite's modules never import the CLI.
"""
import sys

from bprop.cli import main

sys.exit(main(["bench", *sys.argv[1:]]))
