"""Running a leg: the one runner both legs share (``leg``), the overlapped pipeline under it
(``pipeline``), the two legs (``forward``, ``back``) and what a run reports (``result``). The
runner talks to the external systems only through the ports in ``syncd.core.ports``."""
