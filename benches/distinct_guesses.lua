-- wrk script for benches/lockout_storm.sh DISTINCT=1: every request a different wrong
-- password for the user `bench`, from the address given, at most COUNT requests per thread.
--   wrk -t1 -c2 -d5s -s benches/distinct_guesses.lua URL -- ADDRESS COUNT
local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  return ((s:gsub(".", function(c)
    local byte, bits = c:byte(), ""
    for i = 8, 1, -1 do bits = bits .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and "1" or "0") end
    return bits
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return b64:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

local address, limit, sent, answered = "192.0.2.1", 1000, 0, 0
local salt = tostring(math.random(1, 1e9))

function init(args)
  address = args[1] or address
  limit = tonumber(args[2]) or limit
end

function request()
  sent = sent + 1
  local creds = "bench:guess-" .. salt .. "-" .. sent
  return wrk.format("GET", "/", {
    ["Authorization"] = "Basic " .. base64(creds),
    ["X-Forwarded-For"] = address,
  })
end

function response()
  answered = answered + 1
  if answered >= limit then wrk.thread:stop() end
end
