-- Pre-signed Twilio webhooks for bench/http_bench.py.
--
--   wrk -s bench/wrk/signed_posts.lua <url> -- <requests file> <threads>
--
-- Each line of the file is `<path>\t<X-Twilio-Signature>\t<form body>`, generated and signed in
-- Python. Thread k of n sends lines k, k+n, k+2n..., each at most once; a thread that runs out
-- starts over, and those repeats are duplicate deliveries. done() prints, per thread, how many
-- lines it had and how many requests it made, so the script knows exactly which were sent.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

function init(args)
   local file, count = args[1], tonumber(args[2])
   posts, loaded, sent = {}, 0, 0
   local line_number = 0
   for line in io.lines(file) do
      if line_number % count == id - 1 then
         local path, signature, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
         posts[#posts + 1] = wrk.format("POST", path, {
            ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8",
            ["X-Twilio-Signature"] = signature,
         }, body)
      end
      line_number = line_number + 1
   end
   loaded = #posts
end

-- wrk calls request() once on the first thread before the run to check what it returns, and
-- never sends that one: it is not counted, and the first line is sent again for real.
local checked = false

function request()
   if id == 1 and not checked then
      checked = true
      return posts[1]
   end
   sent = sent + 1
   return posts[(sent - 1) % loaded + 1]
end

function done(summary, latency, responses)
   for _, thread in ipairs(threads) do
      io.write(string.format("signed-posts thread %d: loaded %d, sent %d\n",
         thread:get("id"), thread:get("loaded"), thread:get("sent")))
   end
end
