-- POST /evaluate with a realistic PIPU request: answers and attributes.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
-- An API key, as in production (bench/load.py creates it); the bare app ignores it.
local key = os.getenv("REFLEXE_BENCH_KEY")
if key then wrk.headers["Authorization"] = "Bearer " .. key end
wrk.body = [[{"subject":{"ref":"https://www.linkedin.com/in/jeanne-martin","name":"Jeanne Martin"},"answers":{"pertinence":true,"utilite":null},"attributes":{"headline":"Directrice Générale chez Acme — growth & digital","current_title":"Directrice Générale","industry":"Software Development","company":"Acme","mutual_connections":12,"followers":300,"location":"Lyon, Auvergne-Rhône-Alpes","has_message":true,"skills":["Marketing","Growth"]}}]]

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d duration_us=%d socket_errors=%d non_2xx=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, errors, summary.errors.status,
    latency:percentile(50), latency:percentile(99)))
end
