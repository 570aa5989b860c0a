-- wrk script for every scenario of benches/run. Configured by environment:
--   BENCH_METHOD  GET or POST (default POST)
--   BENCH_PATH    request path (default /graphql)
--   BENCH_REQS    file of requests, one per line: "<header value>\t<body>";
--                 each thread walks its own slice, so distinct lines stay
--                 distinct across threads until the file runs out
--   BENCH_HEADER  the header the first column goes in (Authorization,
--                 Stripe-Signature); empty for none
--   BENCH_WANT    every response body must contain this (else counted bad)
--   BENCH_AVOID   no response body may contain this (else counted bad)
--   BENCH_THREADS wrk's -t, to split BENCH_REQS between threads
-- done() prints "bench-bad <n>" and "bench-wrapped <n>" for benches/run.

local method = os.getenv("BENCH_METHOD") or "POST"
local path = os.getenv("BENCH_PATH") or "/graphql"
local reqs_file = os.getenv("BENCH_REQS") or ""
local header_name = os.getenv("BENCH_HEADER") or ""
local want = os.getenv("BENCH_WANT") or ""
local avoid = os.getenv("BENCH_AVOID") or ""

local threads = {}
local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("tid", thread_count)
   table.insert(threads, thread)
end

local lines = {}
local next_line = 1
local last_line = 0
bad = 0
wrapped = 0

function init(args)
   if reqs_file ~= "" then
      local all = {}
      for line in io.lines(reqs_file) do
         all[#all + 1] = line
      end
      -- tid is set by setup() before init runs
      local n = tonumber(os.getenv("BENCH_THREADS")) or 1
      local per = math.floor(#all / n)
      local first = (tid - 1) * per + 1
      for i = first, first + per - 1 do
         lines[#lines + 1] = all[i]
      end
      if #lines == 0 then
         lines = all
      end
      last_line = #lines
   end
end

local base_headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }

function request()
   if last_line == 0 then
      return wrk.format(method, path, base_headers, method == "POST" and wrk.body or nil)
   end
   local line = lines[next_line]
   next_line = next_line + 1
   if next_line > last_line then
      next_line = 1
      wrapped = wrapped + 1
   end
   local tab = line:find("\t", 1, true)
   local value, body = line:sub(1, tab - 1), line:sub(tab + 1)
   local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
   if header_name ~= "" and value ~= "" then
      headers[header_name] = value
   end
   return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
   if want ~= "" and not body:find(want, 1, true) then
      bad = bad + 1
   elseif avoid ~= "" and body:find(avoid, 1, true) then
      bad = bad + 1
   end
end

function done(summary, latency, requests)
   local total_bad, total_wrapped = 0, 0
   for _, t in ipairs(threads) do
      total_bad = total_bad + (tonumber(t:get("bad")) or 0)
      total_wrapped = total_wrapped + (tonumber(t:get("wrapped")) or 0)
   end
   io.write(string.format("bench-bad %d\nbench-wrapped %d\n", total_bad, total_wrapped))
end
