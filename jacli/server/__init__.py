"""The warm server: another process, so its own package with its own rules.

* :mod:`~jacli.server.protocol`: framing, message checks, fingerprint, private directory, peer uid (stdlib only).
* :mod:`~jacli.server.client`: forwarding one command to a running server (the console script's fast path).
* :mod:`~jacli.server.control`: ``jacli server start|stop|status``.
* :mod:`~jacli.server.daemon`: the event loop, forking a child per command; the CLI's ``run`` is injected.
* :mod:`~jacli.server.child`: one command in a forked child (the client's streams, the limits, ``run``).
* :mod:`~jacli.server.__main__`: ``python -m jacli.server``, which injects :func:`jacli.terminal.run`.
"""
