//! The Lua scripts: every change to the shared state is one script, so it is atomic (Redis runs
//! a script to the end before anything else) and a failure writes nothing half-way.
//!
//! Numbers: Redis' Lua is 5.1, whose numbers are doubles and whose `tostring` prints 16-digit
//! ids as `1.8e+15`. Ids stay below 2^53 (exact in a double) and are always formatted with
//! `string.format('%d', …)`; values read back are compared after `tonumber`.

use redis::Script;

/// Starts a new run unless one exists: a fresh epoch and floor (from the caller), and nothing of
/// an earlier run kept (its ids were lost with the meta hash). Shared by the scripts below.
/// KEYS: meta, log, devices, names. Returns the run's epoch.
const ENSURE_RUN: &str = r#"
local function new_run(epoch, floor)
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'floor', floor, 'head', floor, 'devices_rev', '0')
  return epoch
end
local function ensure_run(epoch, floor)
  return redis.call('HGET', KEYS[1], 'epoch') or new_run(epoch, floor)
end
"#;

/// Numbers and appends one device event, and updates the device, in one step.
/// ARGV: candidate epoch, candidate floor, log length, device, kind, at_ms, name ('' = keep).
/// Returns `{epoch, id, name}`.
const PUBLISH: &str = r#"
local epoch = ensure_run(ARGV[1], ARGV[2])
local id = string.format('%d', redis.call('HINCRBY', KEYS[1], 'head', 1))
local name = ARGV[7]
if name == '' then
  name = redis.call('HGET', KEYS[4], ARGV[4]) or ''
else
  redis.call('HSET', KEYS[4], ARGV[4], name)
end
local online = '0'
if ARGV[5] == 'device-online' then online = '1' end
redis.call('HSET', KEYS[3], ARGV[4], online .. ':' .. ARGV[6])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], id .. '-0',
  'epoch', epoch, 'device', ARGV[4], 'kind', ARGV[5], 'at_ms', ARGV[6], 'name', name)
return {epoch, id, name}
"#;

/// Everything a replica needs to (re)join the log, read at one instant. A run whose head went
/// back below what this replica already saw (Redis restored an older snapshot) is replaced by a
/// new one: its next ids would repeat ids already sent.
/// ARGV: candidate epoch, candidate floor, known epoch, known head, how many recent events.
/// Returns `{epoch, floor, head, devices_rev, devices (flat), names (flat), recent (newest first)}`.
const SYNC: &str = r#"
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if epoch and epoch == ARGV[3] then
  local head = tonumber(redis.call('HGET', KEYS[1], 'head') or '0')
  if head < tonumber(ARGV[4]) then epoch = false end
end
if not epoch then epoch = new_run(ARGV[1], ARGV[2]) end
local meta = redis.call('HMGET', KEYS[1], 'floor', 'head', 'devices_rev')
return {epoch, meta[1], meta[2], meta[3],
  redis.call('HGETALL', KEYS[3]), redis.call('HGETALL', KEYS[4]),
  redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[5])}
"#;

/// Adds devices that do not exist yet, without an event (the simulator's population), and tells
/// the replicas to re-read the devices when it added one.
/// ARGV: candidate epoch, candidate floor, at_ms, then (device, '1'|'0') pairs. Returns how many.
const REGISTER: &str = r#"
ensure_run(ARGV[1], ARGV[2])
local added = 0
for i = 4, #ARGV - 1, 2 do
  added = added + redis.call('HSETNX', KEYS[3], ARGV[i], ARGV[i + 1] .. ':' .. ARGV[3])
end
if added > 0 then redis.call('HINCRBY', KEYS[1], 'devices_rev', 1) end
return added
"#;

/// A replica's share of the open streams, with a lease: `count` `-` leaves at once. Shares whose
/// lease ran out (a replica killed without a word) are dropped here, by whichever replica reports
/// next. When the total or the number of replicas changed, it is published on the channel.
/// KEYS: replicas (zset of lease ends), counts (hash), summary (string).
/// ARGV: instance, count or '-', lease ms, channel. Returns `{total, replicas}`.
pub const REPORT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[2] == '-' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  redis.call('ZREM', KEYS[1], gone)
  redis.call('HDEL', KEYS[2], gone)
end
local total = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  total = total + tonumber(redis.call('HGET', KEYS[2], member) or '0')
end
local replicas = redis.call('ZCARD', KEYS[1])
local summary = string.format('%d:%d', total, replicas)
if redis.call('GET', KEYS[3]) ~= summary then
  redis.call('SET', KEYS[3], summary)
  redis.call('PUBLISH', ARGV[4], summary)
end
return {total, replicas}
"#;

/// Takes or renews the simulator's lease. KEYS: lease. ARGV: instance, lease ms, '1' to take it
/// or '0' to give it back. Returns 1 while this instance holds it.
pub const LEASE: &str = r#"
local holder = redis.call('GET', KEYS[1])
if ARGV[3] == '0' then
  if holder == ARGV[1] then redis.call('DEL', KEYS[1]) end
  return 0
end
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"#;

/// The compiled scripts (each keeps its SHA1: `EVALSHA`, falling back to `EVAL` once).
pub struct Scripts {
    pub publish: Script,
    pub sync: Script,
    pub register: Script,
    pub report: Script,
    pub lease: Script,
}

impl Scripts {
    pub fn new() -> Self {
        let with_run = |body: &str| Script::new(&format!("{ENSURE_RUN}{body}"));
        Self {
            publish: with_run(PUBLISH),
            sync: with_run(SYNC),
            register: with_run(REGISTER),
            report: Script::new(REPORT),
            lease: Script::new(LEASE),
        }
    }
}

impl Default for Scripts {
    fn default() -> Self {
        Self::new()
    }
}
