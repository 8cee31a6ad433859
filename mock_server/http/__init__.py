"""ASGI plumbing every server of the kit shares (the mock and the proxy): answers in Kling's envelope, bodies read
within their limit, Kling's routes from the spec, the request log, the kit's refusals, and uvicorn."""
