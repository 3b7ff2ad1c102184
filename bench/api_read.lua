-- wrk script: read one customer's current consent (GET /api/v1/consent/customers/<id>/)
-- with a bearer token, for random customer ids among the seeded accounts; with
-- BENCH_SEQUENTIAL set, every customer in turn (the warm-up: each answer cached once, as they
-- are in a steady state where every customer is read every few seconds).
local token = os.getenv("BENCH_TOKEN")
local first = tonumber(os.getenv("BENCH_FIRST_CUSTOMER") or "1")
local count = tonumber(os.getenv("BENCH_CUSTOMERS") or "10000")
local sequential = os.getenv("BENCH_SEQUENTIAL")
local next_id = 0

request = function()
  local id
  if sequential then
    id = first + next_id % count
    next_id = next_id + 1
  else
    id = first + math.random(0, count - 1)
  end
  return wrk.format("GET", "/api/v1/consent/customers/" .. id .. "/",
    { ["Authorization"] = "Bearer " .. token })
end
