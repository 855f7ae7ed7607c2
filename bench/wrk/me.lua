-- GET /me signed in with "Authorization: tma <init data>", cycling through this thread's users.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "report.lua")

local users
local next_user = 0

function init(args)
  users = load_init_data()
end

function request()
  next_user = next_user % #users + 1
  return wrk.format("GET", "/me", {["Authorization"] = "tma " .. users[next_user]})
end
