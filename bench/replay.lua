-- wrk script: replays pre-computed requests (bench_presign output, REQUESTS_FILE), each once, in
-- order, over wrk's keep-alive connections. Signing happened before the run: only the server's
-- work is measured. If the run outlasts the file, the last request repeats and the server refuses
-- the replays (wrk counts them as non-2xx): the driver treats that as an invalid run. With
-- REPLAY_ONCE set, the thread stops sending instead once every request went out (wrk still runs
-- for its duration), and done() prints "replayed N": the requests the server got, for a cost per
-- request that no refused replay and no uncounted answer distorts.
local requests = {}
local count = 0
local next_index = 0
local once = os.getenv("REPLAY_ONCE") ~= nil
local threads = {}
sent = 0  -- global: done() reads it through thread:get

function setup(thread)
  threads[#threads + 1] = thread
end

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
  if once and next_index >= count then
    wrk.thread:stop()
    return ""
  end
  next_index = next_index + 1
  if next_index > count then next_index = count end
  sent = next_index
  return requests[next_index]
end

function done(summary, latency, reqs)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("sent") end
  io.write(string.format("replayed %d\n", total))
end
