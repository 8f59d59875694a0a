-- wrk script: send DEPTH requests per write (pipelining), default 16.
-- Usage: wrk -s bench/pipeline.lua URL -- PATH [DEPTH]
local path, depth = "/healthz", 16
function init(args)
  path = args[1] or path
  depth = tonumber(args[2] or depth)
  local requests = {}
  for i = 1, depth do requests[i] = wrk.format(nil, path) end
  batch = table.concat(requests)
end
function request() return batch end
