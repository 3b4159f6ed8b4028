"""The web service (layer 6): ``seqrisk serve``, a dashboard and a JSON API over the library.

Modules that need the web framework (``app``, ``api``, ``pages``, ``security``,
``server``) are imported only when the server starts; ``config``, ``tokens``,
``jobs``, ``requests``, ``runners`` and ``pool`` need only the core
dependencies, so token commands and workers run without the ``serve`` extra.
"""
