-- wrk script: save a banner choice (POST /privacy/banner/choice) for a new random visitor each
-- time, as banner.js does (text/plain JSON, no cookies).
local function uuid()
  return string.format("%08x-%04x-4%03x-%04x-%012x", math.random(0, 0xffffffff),
    math.random(0, 0xffff), math.random(0, 0xfff), 0x8000 + math.random(0, 0x3fff),
    math.random(0, 0xffffffffffff))
end

request = function()
  local body = '{"visitor_id":"' .. uuid() .. '","choices":{"preferences":true,' ..
    '"analytics":' .. (math.random() < 0.5 and "true" or "false") .. ',"marketing":false},' ..
    '"policy_version":1,"language":"en"}'
  return wrk.format("POST", "/privacy/banner/choice", { ["Content-Type"] = "text/plain" }, body)
end

init = function(args)
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8)) or 0))
end
