"""The warm server: another process, so its own package with its own rules.

* :mod:`~jacli.server.protocol`: framing, message checks, fingerprint, private directory, peer uid (stdlib only).
* :mod:`~jacli.server.client`: forwarding one command to a running server (the console script's fast path).
* :mod:`~jacli.server.control`: ``jacli server start|stop|status``.
* :mod:`~jacli.server.daemon`: the event loop and its forked children; the CLI's ``run`` is injected.
* :mod:`~jacli.server.__main__`: ``python -m jacli.server``, which injects it.
"""
