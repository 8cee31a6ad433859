"""The ceiling for the benchmark: Starlette and uvicorn doing nothing but read a body and answer.

Whatever the mock costs beyond this endpoint is its own work (auth, parsing, validation, ids,
logging), so `bench/run.py` reports the mock's throughput as a ratio of this one's.

Served as the mock serves itself (`mock_server.server.serve`): a socket bound up front, one worker,
no uvicorn logging, no lifespan, no Server header; uvloop and httptools are named rather than
left to "auto" so that a missing one fails here instead of silently lowering the ceiling.
"""

from __future__ import annotations

import argparse
import socket
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PATH = "/kling/v1/videos/identify-face"
# About the size of the mock's answer, so both send the same bytes back.
BODY = (
    b'{"code":0,"message":"SUCCEED","request_id":"CmJ8DGePZioAAAAAAFIvOQ","data":{"task_id":'
    b'"CmJ8DGePZioAAAAAAFIvOQ","task_status":"submitted","created_at":1737628288136,"updated_at":1737628288136}}'
)


async def create(request: Request) -> Response:
    """Read the whole body, as the mock must, and answer a constant."""
    await request.body()
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route(PATH, create, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the bare Starlette endpoint on loopback.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1, 0 for any free one")
    port = parser.parse_args().port
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    # bench/run.py reads this line to learn the port, as it does the mock's.
    print(f"bare-starlette listening on http://127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr, flush=True)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        server_header=False,
        loop="uvloop",
        http="httptools",
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
