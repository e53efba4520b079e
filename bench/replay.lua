-- wrk script: replays pre-computed requests (bench_presign output, REQUESTS_FILE), each once, in
-- order, over wrk's keep-alive connections. Signing happened before the run: only the server's
-- work is measured. If the run outlasts the file, the last request repeats and the server refuses
-- the replays (wrk counts them as non-2xx): the driver treats that as an invalid run.
local requests = {}
local count = 0
local next_index = 0

function init(args)
  local f = assert(io.open(os.getenv("REQUESTS_FILE"), "rb"))
  local data = f:read("*a")
  f:close()
  local pos = 1
  while pos <= #data do
    local nl = string.find(data, "\n", pos, true)
    local len = tonumber(string.sub(data, pos, nl - 1))
    requests[#requests + 1] = string.sub(data, nl + 1, nl + len)
    pos = nl + 1 + len
  end
  count = #requests
end

function request()
  next_index = next_index + 1
  if next_index > count then next_index = count end
  return requests[next_index]
end
