"""A moto server on 127.0.0.1 on a port the kernel picks: prints the port, then serves."""

import sys

from moto.moto_server.threaded_moto_server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
try:
    server._thread.join()  # type: ignore[union-attr]  # serves until terminated
except KeyboardInterrupt:
    sys.exit(0)
