"""The bottom layer: what every other part of the kit shares, importing nothing of the kit itself.

Business codes and the exception that carries one (`errors`), the registry of verdict rules (`rules`),
callers (`callers`), the clock (`clock`), ids (`ids`), secrets blanked from what is shown (`secrets`) and URLs
as the kit shows them (`urls`).
"""
