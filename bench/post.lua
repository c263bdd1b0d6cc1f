-- POST /evaluate with a realistic PIPU request: answers and attributes.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
-- An API key, as in production (bench/load.py creates it); the bare app ignores it.
local key = os.getenv("REFLEXE_BENCH_KEY")
if key then wrk.headers["Authorization"] = "Bearer " .. key end
-- The request, cut where each request puts values of its own: distinct profiles, so that
-- no cache of the service sees the same one twice.
local head = [[{"subject":{"ref":"https://www.linkedin.com/in/jeanne-martin-]]
local middle = [[","name":"Jeanne Martin"},"answers":{"pertinence":true,"utilite":null},"attributes":{"headline":"Directrice Générale chez Acme ]]
local tail = [[ — growth & digital","current_title":"Directrice Générale","industry":"Software Development","company":"Acme","mutual_connections":12,"followers":300,"location":"Lyon, Auvergne-Rhône-Alpes","has_message":true,"skills":["Marketing","Growth"]}}]]
wrk.body = head .. "0" .. middle .. "0" .. tail

-- With REFLEXE_BENCH_HEADER set (e.g. "Idempotency-Key"), each request also carries that
-- header with a value of its own. REFLEXE_BENCH_RUN prefixes values so runs never share one.
local header = os.getenv("REFLEXE_BENCH_HEADER")
local run, counter = os.getenv("REFLEXE_BENCH_RUN") or "run", 0
request = function()
  counter = counter + 1
  local unique = run .. "-" .. counter
  if header then wrk.headers[header] = unique end
  return wrk.format(nil, nil, nil, head .. unique .. middle .. unique .. tail)
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d duration_us=%d socket_errors=%d non_2xx=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, errors, summary.errors.status,
    latency:percentile(50), latency:percentile(99)))
end
