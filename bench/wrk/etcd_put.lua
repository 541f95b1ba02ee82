-- POST /v3/kv/put (etcd's JSON gateway) with random keys in [0, KEYS) and a
-- 100-byte value: the same load as write.lua, for the etcd comparison. Keys
-- and values are base64, as the gateway requires.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
-- Hand-written: wrk's LuaJIT has no base64 module.
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = {}
    for k = 3, 0, -1 do
      local v = math.floor(n / 64 ^ k) % 64
      table.insert(chars, alphabet:sub(v + 1, v + 1))
    end
    if not b then chars[3], chars[4] = "=", "=" elseif not c then chars[4] = "=" end
    table.insert(out, table.concat(chars))
  end
  return table.concat(out)
end
local value = base64(string.rep("x", 100))
function init(args)
  math.randomseed(id * 7919 + os.time())
  prepare(function(key)
    local body = string.format('{"key":"%s","value":"%s"}', base64(key), value)
    return wrk.format("POST", "/v3/kv/put", {["Content-Type"] = "application/json"}, body)
  end)
end
