"""`syncd demo`'s two acts against the bundled emulators: seed HubSpot (``seed``), then let Sales
work the Leads and close the loop (``sales``). The command and what it prints are in
``syncd.cli.demo``; the cycle it runs is exactly `syncd run --once`'s."""
