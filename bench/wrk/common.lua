-- Shared by the partid wrk scripts: each wrk thread talks to one node (the
-- NODES environment variable lists them as host:port,host:port,...), so one
-- wrk run spreads its connections over the whole cluster; `done` prints the
-- figures as one JSON line for bench/cluster_bench.sh.
-- With KEYMAP (lines "host:port key", from partid_keymap) a thread uses only
-- keys its node leads: a leader-aware client, nothing forwarded. Without it,
-- keys are uniform and two requests in three are forwarded to their leader.
local nodes = {}
for hp in string.gmatch(os.getenv("NODES") or "", "[^,]+") do table.insert(nodes, hp) end
local next_node = 0
local threads = {}

function setup(thread)
  local hp = nodes[(next_node % #nodes) + 1]
  next_node = next_node + 1
  local host, port = hp:match("([^:]+):(%d+)")
  thread.addr = wrk.lookup(host, port)[1]
  thread:set("id", next_node)
  thread:set("node", hp)
  table.insert(threads, thread)
end

keys = tonumber(os.getenv("KEYS") or "10000")
mykeys = {}

-- This thread's keys when KEYMAP is set.
local function load_keys()
  local path = os.getenv("KEYMAP")
  if not path or path == "" then return end
  for line in io.lines(path) do
    local hp, key = line:match("^(%S+) (%S+)$")
    if hp == node then table.insert(mykeys, key) end
  end
end

-- Every request a thread can send, formatted once in init(): formatting
-- per request in Lua cost wrk several microseconds of the CPU it shares with
-- the servers under test (both partid and the etcd baseline).
local prepared = {}

-- Called from each script's init(): loads this thread's keys (KEYMAP), then
-- formats make(key) for each of them.
function prepare(make)
  load_keys()
  if #mykeys == 0 then
    for i = 0, keys - 1 do table.insert(mykeys, "key-" .. i) end
  end
  for _, key in ipairs(mykeys) do table.insert(prepared, make(key)) end
end

function request()
  return prepared[math.random(1, #prepared)]
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local non2xx = summary.errors.status
  io.write(string.format(
    '{"requests":%d,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"errors":%d,"non2xx":%d}\n',
    summary.requests, summary.requests / seconds, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    non2xx))
end
