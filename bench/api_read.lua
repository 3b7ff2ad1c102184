-- wrk script: read one customer's current consent (GET /api/v1/consent/customers/<id>/)
-- with a bearer token, for random customer ids among the seeded accounts.
local token = os.getenv("BENCH_TOKEN")
local first = tonumber(os.getenv("BENCH_FIRST_CUSTOMER") or "1")
local count = tonumber(os.getenv("BENCH_CUSTOMERS") or "10000")

request = function()
  local id = first + math.random(0, count - 1)
  return wrk.format("GET", "/api/v1/consent/customers/" .. id .. "/",
    { ["Authorization"] = "Bearer " .. token })
end
