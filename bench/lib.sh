# Shared by the bench/ scripts (sourced, not run). Each part script:
#   - prints progress on stderr and one or more result lines on stdout:
#       RESULT|part|what|golden|docker CLI / script|ratio or value|target|met
#     which bench/run collects into the final table;
#   - works alone too (`bench/p1-noop`), bringing up the environment and
#     building golden unless bench/run already did (BENCH_READY=1);
#   - publishes under its own registry namespaces (bench-<part>-<stamp>) and
#     removes them, their local images and its temp dir when it ends.
# shellcheck shell=bash

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REGISTRY=127.0.0.1:5000
UPSTREAM=$REGISTRY/upstream/busybox:1.36
REGISTRY_LOG=${GOLDEN_ENV_DIR:-/var/lib/golden-env}/registry.log
# cargo's target directory (CARGO_TARGET_DIR, `build.target-dir` or
# ./target), absolute so that a part that changes directory still finds it.
CARGO_TARGET_DIR=$("$BENCH_ROOT/scripts/target-dir")
export CARGO_TARGET_DIR
GOLDEN=${GOLDEN:-$CARGO_TARGET_DIR/release/golden}
export DOCKER_BUILDKIT=0

say() { printf '%s: %s\n' "${BENCH_PART:-bench}" "$*" >&2; }

# The environment and a release build, once per bench/run.
bench_ready() {
  cd "$BENCH_ROOT"
  if [ "${BENCH_READY:-0}" != 1 ]; then
    bench/env >/dev/null 2>&1 || bench/env
    cargo build --release --quiet
  fi
  [ -x "$GOLDEN" ] || { say "no $GOLDEN"; exit 1; }
  docker image inspect "$UPSTREAM" >/dev/null 2>&1 || docker pull -q "$UPSTREAM" >/dev/null
}

# A fresh temp dir and namespace list, cleaned up on exit.
BENCH_NAMESPACES=()
BENCH_CLEANUPS=()
bench_work() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/golden-bench.XXXXXX")
  trap bench_cleanup EXIT
}
bench_cleanup() {
  local status=$?
  set +e
  local cleanup namespace
  for cleanup in "${BENCH_CLEANUPS[@]}"; do eval "$cleanup"; done
  for namespace in "${BENCH_NAMESPACES[@]}"; do
    delete_namespace "$namespace"
    clean_local "$namespace"
  done
  [ -z "${WORK:-}" ] || rm -rf "$WORK"
  exit "$status"
}

# Sets VARIABLE to a unique namespace for this run, removed at exit (not
# `$(namespace ...)`: a subshell would not remember it).
new_namespace() { # variable name
  printf -v "$1" 'bench-%s-%s-%s-%s' "$2" "$(date +%s)" "$$" "${#BENCH_NAMESPACES[@]}"
  BENCH_NAMESPACES+=("${!1}")
}

# golden.toml for images img1..imgN (contexts images/imgI under its directory).
write_config() { # file namespace count [host]
  local file=$1 namespace=$2 count=$3 host=${4:-$REGISTRY} i
  {
    printf '[registry]\nhost = "%s"\nnamespace = "%s"\n' "$host" "$namespace"
    for i in $(seq 1 "$count"); do
      printf '\n[images.img%s]\nversion = "1.0"\ncontext = "images/img%s"\n' "$i" "$i"
    done
  } >"$file"
}

# Every local image whose name contains the namespace; `docker rmi` takes
# their untagged parents (the build cache of their steps) with them. No
# global prune: other users of the engine keep their dangling images.
clean_local() { # namespace
  local references
  references=$(docker images --format '{{.Repository}}:{{.Tag}}' | grep -F "$1" || true)
  # shellcheck disable=SC2086
  [ -z "$references" ] || docker rmi -f $references >/dev/null 2>&1 || true
}

MANIFEST_TYPES='application/vnd.docker.distribution.manifest.v2+json,application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.oci.image.index.v1+json'

# The strings of a JSON list field on stdin, one a line; nothing when the
# input is empty or not JSON.
json_list() { # field
  python3 -c '
import json, sys
try:
    print("\n".join(json.load(sys.stdin).get(sys.argv[1]) or []))
except ValueError:
    pass' "$1"
}

# The registry's repositories starting with a prefix, one a line (the
# catalog comes in pages of at most 1000).
catalog() { # prefix
  python3 - "$REGISTRY" "$1" <<'PYTHON'
import json, sys, urllib.parse, urllib.request
registry, prefix = sys.argv[1], sys.argv[2]
last = ""
while True:
    query = urllib.parse.urlencode({"n": 1000, "last": last} if last else {"n": 1000})
    with urllib.request.urlopen(f"http://{registry}/v2/_catalog?{query}") as response:
        page = json.load(response).get("repositories") or []
        more = 'rel="next"' in (response.headers.get("Link") or "")
    for repository in page:
        if repository.startswith(prefix):
            print(repository)
    if not page or not more:
        break
    last = page[-1]
PYTHON
}

# Deletes every manifest of every repository under a namespace (the
# registry keeps the blobs until its garbage collection).
delete_namespace() { # namespace
  local repository tag digest
  for repository in $(catalog "$1/"); do
    # A repository whose manifests are all deleted stays in the catalog.
    for tag in $(curl -fsS "http://$REGISTRY/v2/$repository/tags/list" 2>/dev/null | json_list tags); do
      # Tags sharing a digest are gone with the first: their HEAD is a 404.
      digest=$(curl -fsSI -H "Accept: $MANIFEST_TYPES" "http://$REGISTRY/v2/$repository/manifests/$tag" 2>/dev/null |
        tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}') || true
      [ -z "$digest" ] || curl -fsS -X DELETE "http://$REGISTRY/v2/$repository/manifests/$digest" >/dev/null 2>&1 || true
    done
  done
}

# The registry access log between two byte offsets.
log_offset() { sleep 0.3; stat -c %s "$REGISTRY_LOG"; }
log_between() { # start end
  tail -c +"$(($1 + 1))" "$REGISTRY_LOG" | head -c "$(($2 - $1))"
}
# Access-log request lines (combined format) for repositories under a
# namespace, between two offsets: `METHOD PATH STATUS`.
requests_between() { # start end namespace
  log_between "$1" "$2" |
    awk -v ns="/v2/$3/" '$0 ~ /^[0-9.]+ - / && index($0, ns) {
      sub(/^"/, "", $6); print $6, $7, $9 }'
}

# Wall seconds of a command (its output discarded).
wall() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# The median wall of a hyperfine --export-json file, in seconds.
hyperfine_median() { # file [index]
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["median"])' "$1" "${2:-0}"
}

fmt() { printf "%.${2:-2}f" "$1"; }
# yes when value <= limit
at_most() { if [ "$(echo "$1 <= $2" | bc -l)" = 1 ]; then echo yes; else echo no; fi; }

result() { # part what golden other value target met
  local IFS='|'
  echo "RESULT|$*"
}

# Tiny distinct contexts: images/imgI with a motd of its own.
tiny_contexts() { # directory count
  local i
  for i in $(seq 1 "$2"); do
    mkdir -p "$1/images/img$i"
    printf 'golden bench image %s\n' "$i" >"$1/images/img$i/motd"
    printf 'FROM %s\nCOPY motd /etc/motd\n' "$UPSTREAM" >"$1/images/img$i/Dockerfile"
  done
}

# `docker build -q ARGS...` without the legacy builder's deprecation notice;
# its output shows only when it fails.
quiet_build() {
  local output
  if ! output=$(docker build -q "$@" 2>&1); then
    printf '%s\n' "$output" >&2
    return 1
  fi
}

# The naive cron script golden replaces, for images img1..imgN: per image a
# `docker build`, four `docker tag` (exact, X.Y, X, latest) and four
# `docker push`.
naive_script() { # directory namespace count [version]
  local directory=$1 namespace=$2 count=$3 version=${4:-1.0.0} i tag repository
  for i in $(seq 1 "$count"); do
    repository=$REGISTRY/$namespace/img$i
    quiet_build -t "$namespace-img$i" "$directory/images/img$i"
    for tag in "$version" 1.0 1 latest; do docker tag "$namespace-img$i" "$repository:$tag"; done
    for tag in "$version" 1.0 1 latest; do docker push -q "$repository:$tag" >/dev/null; done
  done
}
