-- Shared by every bench script: numbers the threads and writes the run's figures as JSON.
-- Environment: BENCH_RESULT, the file the figures go to (wrk's own summary still prints).

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local errors = summary.errors
  local result = string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"threads": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    #threads
  )
  local path = os.getenv("BENCH_RESULT")
  if path then
    local file = assert(io.open(path, "w"))
    file:write(result)
    file:close()
  end
end

-- Each thread reads its own share of the signed init data: BENCH_USERS .. "." .. thread index.
function load_init_data()
  local prefix = os.getenv("BENCH_USERS") or error("BENCH_USERS names the signed users' files")
  local lines = {}
  for line in io.lines(prefix .. "." .. thread_index) do
    lines[#lines + 1] = line
  end
  if #lines == 0 then
    error("no signed users in " .. prefix .. "." .. thread_index)
  end
  return lines
end
