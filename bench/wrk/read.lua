-- GET /items/{pk}/{rk} for random keys in [0, KEYS), all written beforehand.
-- QUERY (e.g. "?consistency=replica") is appended to every path.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
local query = os.getenv("QUERY") or ""
function init(args)
  math.randomseed(id * 104729 + os.time())
  prepare(function(key) return wrk.format("GET", "/items/" .. key .. "/r" .. query) end)
end
