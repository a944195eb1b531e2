#!/usr/bin/env bash
# The air-gap session, run by tests/it/airgap.rs inside a network namespace with only loopback
# (unshare --net): a local model server, Promptyard under strace (every connect() it makes is
# written to WORK/connects.txt), and a scripted session with curl through the pages, the JSON
# API and /v1. Usage: session.sh PROMPTYARD_BIN WORK_DIR
set -euo pipefail
BIN="$1"
WORK="$2"
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$WORK"
ip link set lo up
MODEL_PORT=11434
PORT=18080
BASE="http://127.0.0.1:$PORT"

python3 "$HERE/fake_llm.py" "$MODEL_PORT" &
FAKE_PID=$!
cat >promptyard.toml <<TOML
listen = "127.0.0.1:$PORT"
data_dir = "$WORK/data"
[outbound]
allow_cidrs = ["127.0.0.1"]
allow_ports = [$MODEL_PORT]
block_public = true
TOML
strace -f -qq -e trace=connect -o "$WORK/connects.txt" "$BIN" serve --config promptyard.toml \
  >"$WORK/server.log" 2>&1 &
SERVER=$!
# strace's child is the server: stopping strace alone would leave it running.
stop() { pkill -TERM -P "$SERVER" 2>/dev/null || true; kill "$FAKE_PID" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq 1 100); do
  curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

jar="$WORK/cookies"
form() { curl -fsS -o /dev/null -b "$jar" -c "$jar" -X POST -H 'content-type: application/x-www-form-urlencoded' --data "$2" "$BASE$1"; }
json() { curl -fsS -b "$jar" -c "$jar" -X "$1" -H 'content-type: application/json' --data "$3" "$BASE$2"; }
page() { curl -fsS -o /dev/null -b "$jar" -c "$jar" "$BASE$1"; }

form /setup 'email=admin%40example.com&name=Ada&password=air-gapped-password'
form /admin/providers "name=Local&kind=openai-compatible&base_url=http%3A%2F%2F127.0.0.1%3A$MODEL_PORT%2Fv1&models=local-model"
ws="$(json GET /api/workspaces '' | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
json POST "/api/workspaces/$ws/templates" '{"name":"Greeter","user_prompt_template":"Say hello."}' >/dev/null
out="$(json POST "/w/$ws/playground/run" '{"model":"local-model","user_prompt":"Say hello"}')"
grep -q '"completed"' <<<"$out" && grep -q ' local' <<<"$out"
html="$(curl -fsS -b "$jar" -c "$jar" -X POST -H 'content-type: application/x-www-form-urlencoded' --data "name=ci&workspace=$ws" "$BASE/account/api-keys")"
key="$(grep -o 'value="pyk_[^"]*"' <<<"$html" | head -n1 | cut -d'"' -f2)"
test -n "$key"
# Each answer is read whole before it is searched: `curl | grep -q` fails under pipefail when
# grep stops reading a large body early (curl: (23) Failed writing body).
out="$(curl -fsS -H "authorization: Bearer $key" -H 'content-type: application/json' \
  --data '{"model":"local-model","messages":[{"role":"user","content":"Hi"}]}' \
  "$BASE/v1/chat/completions")"
grep -q 'local model' <<<"$out"
out="$(curl -fsS -N -H "authorization: Bearer $key" -H 'content-type: application/json' \
  --data '{"model":"local-model","stream":true,"messages":[{"role":"user","content":"Hi"}]}' \
  "$BASE/v1/chat/completions")"
grep -q '\[DONE\]' <<<"$out"
json POST /api/community/prompts '{"title":"Offline prompt","prompt":"Summarise {{text}}"}' >/dev/null
sleep 1
for p in / "/w/$ws/templates" "/w/$ws/history" "/w/$ws/analytics" /search?q=hello /community /context /account /admin/audit /admin/analytics; do
  page "$p"
done
metrics="$(curl -fsS "$BASE/metrics")"
grep -q 'promptyard_gateway_calls_total' <<<"$metrics"
echo "session complete"
pkill -TERM -P "$SERVER"
wait "$SERVER" || true
