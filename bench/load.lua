-- wrk script of the load mix (bench/load.sh): one endpoint per wrk process, chosen by the
-- ENDPOINT environment variable; each request as one of the 50 signed-in customers.
local data = dofile((os.getenv("TMPDIR") or "/tmp") .. "/inper-load/users.lua")
local endpoint = os.getenv("ENDPOINT")
local on = false

local function person()
  return data.users[math.random(1, #data.users)]
end

local function cookies(user)
  return data.session_cookie .. "=" .. user.session .. "; " .. data.csrf_cookie .. "=" .. user.csrf
end

local function uuid()
  return string.format("%08x-%04x-4%03x-%04x-%012x", math.random(0, 0xffffffff),
    math.random(0, 0xffff), math.random(0, 0xfff), 0x8000 + math.random(0, 0x3fff),
    math.random(0, 0xffffffffffff))
end

-- Every thread's count of unexpected answers, added up in done() (wrk's own error count
-- leaves out statuses below 400, such as a redirect to the sign-in page).
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8)) or 0))
end

request = function()
  local user = person()
  if endpoint == "home" then
    return wrk.format("GET", "/")
  elseif endpoint == "preferences" then
    return wrk.format("GET", "/privacy/", { ["Cookie"] = cookies(user) })
  elseif endpoint == "toggle" then
    on = not on
    return wrk.format("POST", "/privacy/choices/" .. data.toggle .. "/", {
      ["Cookie"] = cookies(user),
      ["X-CSRFToken"] = user.csrf,
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "granted=" .. (on and "on" or "off"))
  elseif endpoint == "requests" then
    return wrk.format("GET", "/requests/", { ["Cookie"] = cookies(user) })
  elseif endpoint == "banner" then
    local body = '{"visitor_id":"' .. uuid() .. '","choices":{"preferences":true,' ..
      '"analytics":' .. (math.random() < 0.5 and "true" or "false") .. ',"marketing":false},' ..
      '"policy_version":1,"language":"en"}'
    return wrk.format("POST", "/privacy/banner/choice", { ["Content-Type"] = "text/plain" }, body)
  else -- api
    return wrk.format("GET", "/api/v1/consent/customers/" .. user.id .. "/",
      { ["Authorization"] = "Bearer " .. data.token })
  end
end

local expected = { home = 200, preferences = 200, toggle = 302, requests = 200, banner = 201,
  api = 200 }
unexpected = 0  -- global: done() reads it with thread:get
response = function(status, headers, body)
  if status ~= expected[endpoint] then
    unexpected = unexpected + 1
    if unexpected <= 3 then io.stderr:write(endpoint .. ": status " .. status .. "\n") end
  end
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("unexpected")
  end
  io.write(string.format("RESULT %s %d %.1f %.1f %.1f %d\n", endpoint, summary.requests,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors))
end
