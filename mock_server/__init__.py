"""A fake Kling identify-face backend, driven by the OpenAPI spec in `openapi/`.

Start it with `kling-mock serve`; build the app yourself with `mock_server.app.create_app`.
"""
