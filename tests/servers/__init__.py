"""Real third-party model servers for the tests: how to build, find and start them."""
