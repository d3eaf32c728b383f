#!/usr/bin/env python3
"""The registry floor: replays a list of requests (one `METHOD URL` a line,
as golden logged them) against the registry over CONCURRENCY keep-alive
HTTP/1.1 connections, as fast as the registry answers, and prints the wall
time in seconds and the number of requests. Nothing but the standard
library: raw asyncio streams, so the client costs far less than the
registry it measures.

Usage: bench/floor.py REQUESTS_FILE [CONCURRENCY] [ACCEPT]
"""
import asyncio
import sys
import time
from urllib.parse import urlsplit

ACCEPT = (
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.oci.image.index.v1+json"
)


async def read_response(reader, method):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    if method == "HEAD" or status in (204, 304):
        return status
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status


async def worker(host, port, queue, statuses):
    reader, writer = await asyncio.open_connection(host, port)
    while True:
        try:
            method, path = queue.get_nowait()
        except asyncio.QueueEmpty:
            break
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Accept: {ACCEPT}\r\nUser-Agent: bench-floor\r\n\r\n".encode()
        )
        statuses.append(await read_response(reader, method))
    writer.close()


async def main():
    path = sys.argv[1]
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    requests = []
    for line in open(path):
        if line.strip():
            method, url = line.split()
            requests.append((method, urlsplit(url)))
    if not requests:
        print("0 0")
        return
    host, port = requests[0][1].hostname, requests[0][1].port or 80
    queue = asyncio.Queue()
    for method, url in requests:
        queue.put_nowait((method, url.path + ("?" + url.query if url.query else "")))
    statuses = []
    started = time.perf_counter()
    await asyncio.gather(
        *(worker(host, port, queue, statuses) for _ in range(min(concurrency, len(requests))))
    )
    wall = time.perf_counter() - started
    errors = sum(1 for status in statuses if status >= 500)
    print(f"{wall:.4f} {len(statuses)} {errors}")


asyncio.run(main())
