"""The words every layer shares: records, outcomes, errors, the read window, the ports.

Nothing here imports anything else of syncd's; everything else may import this.
"""

__version__ = "0.1.0"
