-- POST /txn: one transaction writing two items with random keys in [0, KEYS)
-- (key-n and key-(n+1): almost always two partitions), 100-byte messages.
-- Two transactions that meet on an item while it is locked: one gets 409.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
local message = string.rep("x", 100)
function init(args)
  math.randomseed(id * 7919 + os.time())
  prepare(function(key)
    local n = tonumber(key:match("(%d+)$"))
    local other = string.format("key-%d", (n + 1) % keys)
    local body = string.format(
      '{"writes":[{"partition_key":"%s","range_key":"r","message":"%s"},' ..
      '{"partition_key":"%s","range_key":"r","message":"%s"}]}', key, message, other, message)
    return wrk.format("POST", "/txn", {["Content-Type"] = "application/json"}, body)
  end)
end
