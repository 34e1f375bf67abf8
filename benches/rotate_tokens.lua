-- wrk script for benches/timelines.py: every request carries the access token of the next seeded
-- user, so consecutive requests read different users' home timelines (no single hot row set).
--
--   wrk -t2 -c16 -d20s --latency -s benches/rotate_tokens.lua \
--       http://127.0.0.1:3000/api/v1/timelines/home -- /tmp/ferrodon-bench/sqlite/tokens.txt
--
-- The argument after `--` is a file of `username token` lines as written by
-- `ferrodon seed --tokens-file`. Each wrk thread starts at a different offset in the list.

local tokens = {}
local counter = 0
local next_thread_id = 0

-- Runs once per thread in the main Lua state, before the threads start.
function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
end

-- Runs in each thread's own Lua state.
function init(args)
  local path = args[1]
  if path == nil then
    error("rotate_tokens.lua: pass the tokens file after --")
  end
  for line in io.lines(path) do
    local token = line:match("^%S+%s+(%S+)%s*$")
    if token then
      tokens[#tokens + 1] = token
    end
  end
  if #tokens == 0 then
    error("rotate_tokens.lua: no `username token` lines in " .. path)
  end
  -- Spread the threads over the list (a prime stride keeps them apart for any list length).
  counter = ((thread_id or 0) * 7919) % #tokens
end

function request()
  counter = counter + 1
  if counter > #tokens then
    counter = 1
  end
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[counter] })
end
