-- create_cin.lua: wrk script of scenario (b): every request CREATEs one contentInstance (ty=4)
-- under BENCH_CNT_PATH with a unique X-M2M-RI and a small con (TS-0009 6.4.2 headers).
-- The CSE answers 201/2001 only once the write is durable, so this measures group commit.

local path = os.getenv("BENCH_CNT_PATH") or "/cse-in/bench/cnt"
local origin = os.getenv("BENCH_ORIGIN") or "Cbench"
local counter = 0
local prefix = "b"
local nthreads = 0

-- Main state, once per wrk thread: give each thread a distinct id for its RI prefix.
function setup(thread)
    nthreads = nthreads + 1
    thread:set("tid", nthreads)
end

-- Thread state: the run start time makes RIs unique across runs as well.
function init(args)
    prefix = string.format("bench-%d-%d-", os.time(), tid or 0)
end

function request()
    counter = counter + 1
    local body = '{"m2m:cin":{"cnf":"text/plain:0","con":"v' .. counter .. '"}}'
    return wrk.format("POST", path, {
        ["X-M2M-Origin"] = origin,
        ["X-M2M-RI"] = prefix .. counter,
        ["X-M2M-RVI"] = "3",
        ["Accept"] = "application/json",
        ["Content-Type"] = "application/json;ty=4",
    }, body)
end

-- done(): the shared reporter, loaded from the directory of this script.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")
