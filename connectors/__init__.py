"""One package per external system, plus what they share: the transport (``http``, ``trust``),
the one error table (``errors``), the one retry policy (``retry``) and the rate limiter
(``limits``). Connectors do I/O only: they take plain filters and field lists, return
``syncd.core.records`` and raise ``syncd.core.errors``; they import nothing of syncd's but
``syncd.core``. Every decision lives in the planners."""
