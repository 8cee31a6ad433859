"""`kling-mock proxy`: a validation proxy between a client and a real Kling backend, judging both sides.

Light on purpose: the command line reads `proxy.settings` without loading the server stack (`proxy.app`).
"""
