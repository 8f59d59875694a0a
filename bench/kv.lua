-- wrk script for key-value load on ringkv or on webdis (+ Redis).
-- Usage: wrk -s bench/kv.lua URL -- TARGET MODE KEYS VALUE_BYTES DEPTH [NAMESPACE]
--   TARGET: ringkv | webdis     MODE: get | put | mix (90% get, 10% put)
--     | zipf-get (GET, keys drawn from a Zipf law of skew 0.99: a few hot keys)
--   KEYS: keys k0..k{KEYS-1}, chosen uniformly at random (on ringkv about
--   half of them live on the other core from the connection's)
--   DEPTH: requests pipelined per write (1: none)
local target, mode, keys, value, depth, namespace
-- Requests are drawn in init() into a pool that request() cycles through,
-- so the load generator spends its CPU on sockets, not on Lua strings.
local pool, pool_size, position = {}, 4096, 0

function init(args)
  target, mode = args[1], args[2]
  keys, depth = tonumber(args[3]), tonumber(args[5])
  value = string.rep("v", tonumber(args[4]))
  namespace = args[6]
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  if mode == "zipf-get" then zipf_table(0.99) end
  for i = 1, pool_size do pool[i] = batch() end
end

-- Cumulative weights 1/rank^skew over the keys, for draw_key().
local cumulative
function zipf_table(skew)
  cumulative = {}
  local total = 0
  for rank = 1, keys do
    total = total + 1 / rank ^ skew
    cumulative[rank] = total
  end
  for rank = 1, keys do cumulative[rank] = cumulative[rank] / total end
end

function draw_key()
  if not cumulative then return math.random(0, keys - 1) end
  local u, low, high = math.random(), 1, keys
  while low < high do
    local middle = math.floor((low + high) / 2)
    if cumulative[middle] < u then low = middle + 1 else high = middle end
  end
  return low - 1
end

function one()
  local key = "k" .. draw_key()
  local put = mode == "put" or (mode == "mix" and math.random(100) <= 10)
  if target == "ringkv" then
    local path = "/v2/storage/kvs/" .. namespace .. "/keys/" .. key
    local headers = { ["Authorization"] = "Bearer bench" }
    if put then return wrk.format("PUT", path, headers, value) end
    return wrk.format("GET", path, headers)
  end
  if put then return wrk.format("PUT", "/SET/" .. key, nil, value) end
  return wrk.format("GET", "/GET/" .. key)
end

function batch()
  if depth == 1 then return one() end
  local requests = {}
  for i = 1, depth do requests[i] = one() end
  return table.concat(requests)
end

function request()
  position = position % pool_size + 1
  return pool[position]
end
