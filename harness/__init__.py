"""Real servers that the tests and the benchmarks both run: `groupware serve` as a child
process (serverprocess.py) and a loopback DNS server with the records a run needs
(dnsserver.py). Kept apart from tests/ so that bench/ never reaches into the test suite."""
