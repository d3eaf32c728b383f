#!/usr/bin/env python3
"""A byte-counting TCP proxy for bench/p4-floating.

    byteproxy.py LISTEN_PORT TARGET_HOST:TARGET_PORT STATS_FILE

Listens on 127.0.0.1:LISTEN_PORT and forwards every connection to the
target. It counts the bytes sent by clients ("up") and by the target
("down"), and the connections, and writes them as JSON to STATS_FILE when a
connection closes, on SIGUSR1 and on SIGTERM (then it exits). The counters
are updated as data is forwarded, so a snapshot taken after a client has
its answer includes it, even if the client keeps the connection open.
"""

import asyncio
import json
import os
import signal
import sys

stats = {"up": 0, "down": 0, "connections": 0}


def dump(path):
    temporary = path + ".tmp"
    with open(temporary, "w") as file:
        json.dump(stats, file)
    os.replace(temporary, path)


async def pipe(reader, writer, key):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            stats[key] += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    port, target, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    target_host, target_port = target.rsplit(":", 1)

    async def handle(client_reader, client_writer):
        stats["connections"] += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                target_host, int(target_port)
            )
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, upstream_writer, "up"),
            pipe(upstream_reader, client_writer, "down"),
        )
        dump(path)

    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, dump, path)
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    dump(path)
    async with server:
        await stop
    dump(path)


if __name__ == "__main__":
    asyncio.run(main())
