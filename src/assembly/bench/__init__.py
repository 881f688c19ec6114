"""`assembly bench`: a plenary load simulation against a real `assembly serve` process.

seed.py makes and fills a fresh database, server.py starts the server and reads its memory,
load.py plays the phones, the chair and the projector, command.py is the CLI command.
"""


class BenchSetupError(RuntimeError):
    """The bench cannot prepare its database or server; the message says why."""
