-- POST /auth/telegram with {"init_data": ...}, cycling through this thread's signed users in
-- file order: over fresh ids the first pass signs new users in, a later pass returning ones.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "report.lua")

local users
local next_user = 0

function init(args)
  users = load_init_data()
end

function request()
  next_user = next_user % #users + 1
  -- init data is percent-encoded, so it needs no JSON escaping.
  return wrk.format("POST", "/auth/telegram", {["Content-Type"] = "application/json"},
    '{"init_data":"' .. users[next_user] .. '"}')
end
