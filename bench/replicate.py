#!/usr/bin/env python3
"""Copies one image to many repositories of the registry through the
distribution API (cross-repository blob mounts, then one manifest PUT per
tag), so a bench can have 1,000 published lines without 1,000 builds.

Usage: bench/replicate.py HOST SOURCE_REPO TAG TARGETS_FILE TAG...
  TARGETS_FILE holds one target repository a line.
"""
import http.client
import json
import sys
from concurrent.futures import ThreadPoolExecutor

ACCEPT = (
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.oci.image.manifest.v1+json"
)


def main():
    host, source, tag, targets_file, *tags = sys.argv[1:]
    connection = http.client.HTTPConnection(host)
    connection.request("GET", f"/v2/{source}/manifests/{tag}", headers={"Accept": ACCEPT})
    response = connection.getresponse()
    body = response.read()
    assert response.status == 200, (response.status, body)
    media_type = response.getheader("Content-Type")
    manifest = json.loads(body)
    blobs = [manifest["config"]["digest"]] + [layer["digest"] for layer in manifest["layers"]]
    targets = [line.strip() for line in open(targets_file) if line.strip()]

    def copy(chunk):
        connection = http.client.HTTPConnection(host)
        for target in chunk:
            for blob in blobs:
                connection.request(
                    "POST", f"/v2/{target}/blobs/uploads/?mount={blob}&from={source}", body=b""
                )
                answer = connection.getresponse()
                answer.read()
                assert answer.status == 201, (target, blob, answer.status)
            for name in tags:
                connection.request(
                    "PUT",
                    f"/v2/{target}/manifests/{name}",
                    body=body,
                    headers={"Content-Type": media_type},
                )
                answer = connection.getresponse()
                answer.read()
                assert answer.status == 201, (target, name, answer.status)

    workers = 8
    chunks = [targets[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(copy, chunks))


main()
