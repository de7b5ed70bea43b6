#!/usr/bin/env bash
# Measured example runs of 'kd generate' against the loopback OpenAI-compatible server (docs/llm-teachers.md).
# Usage: bash eng/LoopbackLlmServer/measure.sh [work-dir]   (builds kd and the server in Release first)
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work" && cd "$work" && rm -rf ./*.jsonl .kd-cache endpoint
dotnet build -c Release "$repo/src/KnowledgeDistillation.Cli" -v q -nologo > /dev/null || exit 1
dotnet build -c Release "$repo/eng/LoopbackLlmServer" -v q -nologo > /dev/null || exit 1
KD="dotnet $repo/src/KnowledgeDistillation.Cli/bin/Release/net10.0/kd.dll"
export KD_API_KEY=sk-test-DO-NOT-LEAK-4f1d9c   # the loopback server's test key
# 1000 prompts; every 20th is answered 429 once (retry-after-ms 50), every 100th 500 once, every 200th always 400.
python3 - <<'PY'
import json
with open('prompts.jsonl', 'w') as f:
    for i in range(1000):
        p = f"Explain concept number {i} in one sentence."
        if i % 20 == 7: p += " #429x1"
        if i % 100 == 13: p += " #500x1"
        if i % 200 == 42: p += " #400"
        f.write(json.dumps({"id": f"q{i:04d}", "prompt": p}) + "\n")
PY
dotnet "$repo/eng/LoopbackLlmServer/bin/Release/net10.0/LoopbackLlmServer.dll" 20 endpoint > server.log 2>&1 &
server=$!
while [ ! -s endpoint ]; do sleep 0.2; done
common="--prompts prompts.jsonl --endpoint $(cat endpoint) --model teacher-1 --top-logprobs 5 --price-input 2.5 --price-output 10 --plain"
timed() { local s; s=$(date +%s.%N); "$@"; local rc=$?; printf '[exit %d, wall %.2f s]\n' $rc "$(echo "$(date +%s.%N) - $s" | bc)"; }
echo "=== 1. first run, concurrency 8"; timed $KD generate $common --out teacher.jsonl --concurrency 8 2>/dev/null | tail -2
echo "=== 2. the same command again"; timed $KD generate $common --out teacher.jsonl --concurrency 8 2>/dev/null | tail -2
echo "=== 3. the same prompts into a new file (cache)"; timed $KD generate $common --out teacher-cached.jsonl --concurrency 8 2>/dev/null | tail -3
echo "=== 4. budget 0.05 USD, no cache"; timed $KD generate $common --out budget.jsonl --concurrency 8 --no-cache --budget-usd 0.05 --max-output-tokens 64 2>/dev/null | tail -3
echo "budget.jsonl: $(wc -l < budget.jsonl) records"
echo "=== 5. interrupted (SIGTERM after 1.5 s; Ctrl+C is handled the same way), then the same command again"
$KD generate $common --out resumed.jsonl --concurrency 8 --no-cache > interrupted.out 2> interrupted.err & run=$!
sleep 1.5; kill -TERM $run; wait $run; echo "[exit $?] $(wc -l < resumed.jsonl) records"; grep -v "^warning: Prompt" interrupted.err
timed $KD generate $common --out resumed.jsonl --concurrency 8 --no-cache 2>/dev/null | tail -2
python3 - <<'PY'
import json
def load(path):
    d = {}
    for line in open(path):
        r = json.loads(line)
        d.setdefault(r['id'], []).append((r.get('response'), json.dumps(r.get('logprobs')), (r.get('error') or {}).get('kind')))
    return d
a, b = load('teacher.jsonl'), load('resumed.jsonl')
print('resumed.jsonl:', sum(map(len, b.values())), 'records,', len(b), 'distinct ids,', sum(len(v) > 1 for v in b.values()), 'duplicates; same content as run 1:', a == b)
PY
for c in 1 32; do echo "=== 6. concurrency $c, no cache"; timed $KD generate $common --out conc$c.jsonl --concurrency $c --no-cache 2>/dev/null | tail -1; done
kill -TERM $server; wait $server; tail -1 server.log
