-- POST /items with random keys in [0, KEYS) and a 100-byte message.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
local message = string.rep("x", 100)
function init(args)
  math.randomseed(id * 7919 + os.time())
  prepare(function(key)
    local body = string.format('{"partition_key":"%s","range_key":"r","message":"%s"}', key,
                               message)
    return wrk.format("POST", "/items", {["Content-Type"] = "application/json"}, body)
  end)
end
