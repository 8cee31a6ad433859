"""The client side of the kit: what runs beside a client under test, never inside the mock.

`process` runs the mock as a child process, `admin_client` talks to its admin API, `verify` and `conformance`
report a client's conformance from the journal, `pytest_plugin` gives tests the mock as fixtures. Nothing here
imports the server: it talks to it over HTTP, as users do.
"""
